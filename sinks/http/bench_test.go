package http

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// benchRecords are 1000 access-log-like records, about 250 bytes each as JSON.
func benchRecords() []model.LogRecord {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	recs := make([]model.LogRecord, 1000)
	for i := range recs {
		recs[i] = model.LogRecord{
			Time:   ts.Add(time.Duration(i) * time.Millisecond),
			Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c-2", Container: "web"},
			Stream: "stdout",
			Log:    fmt.Sprintf(`10.0.%d.%d - - "GET /api/v1/items/%d?page=%d HTTP/1.1" 200 %d "-" "Mozilla/5.0 (X11; Linux x86_64)" rt=0.%03d`, i%256, i%7, i*31, i%9, 1000+i*7, i%1000),
			Labels: model.Labels{"app": "web", "pod-template-hash": "7f9c"},
		}
	}
	return recs
}

// plainSize is the size of the uncompressed body.
func plainSize(recs []model.LogRecord, encoding, framing string) int64 {
	body, _ := NewBody(encoding, framing, false)
	var n countingWriter
	_ = body.Encode(&n, recs)
	return int64(n)
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// BenchmarkEncode measures the http sink's body encoding and compression;
// bytes are those of the uncompressed body.
func BenchmarkEncode(b *testing.B) {
	recs := benchRecords()
	for _, bc := range []struct {
		name, encoding, framing string
		gzip                    bool
	}{
		{"json-ndjson", "json", FramingNewline, false},
		{"json-ndjson-gzip", "json", FramingNewline, true},
		{"json-array-gzip", "json", FramingNone, true},
		{"text-gzip", "text", FramingNewline, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body, err := NewBody(bc.encoding, bc.framing, bc.gzip)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(plainSize(recs, bc.encoding, bc.framing))
			b.ReportAllocs()
			for b.Loop() {
				if err := body.Encode(io.Discard, recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
