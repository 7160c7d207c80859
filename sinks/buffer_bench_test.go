package sinks

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// BenchmarkBufferRoundTrip measures one collector batch of 1000 records
// through a sink's disk buffer: framed, written and fsynced, then read back,
// decoded and committed. Bytes are the records' JSON.
func BenchmarkBufferRoundTrip(b *testing.B) {
	recs := sinktest.Numbered(0, 1000)
	var size int64
	for _, r := range recs {
		size += int64(len(AppendJSON(nil, r)))
	}
	buf, err := openBuffer(b.TempDir(), 1<<30, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if err := buf.Append(ctx, recs, time.Now()); err != nil {
			b.Fatal(err)
		}
		got, next, err := buf.Peek(1000, 1<<30)
		if err != nil || len(got) != 1000 {
			b.Fatalf("peek: %d records, %v", len(got), err)
		}
		if err := buf.Commit(next, len(got)); err != nil {
			b.Fatal(err)
		}
	}
}
