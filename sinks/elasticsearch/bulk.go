package elasticsearch

import (
	"bytes"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// encoder builds bulk request bodies. It keeps its buffers between batches;
// one encoder serves one batch at a time.
type encoder struct {
	index    *indexPattern
	pipeline string
	gzip     bool
	body     []byte
	doc      []byte
	zbuf     bytes.Buffer
	zw       *gzip.Writer
}

func newEncoder(c Config) *encoder {
	ip, _ := parseIndexPattern(c.Index) // checked by Validate
	return &encoder{index: ip, pipeline: c.Pipeline, gzip: c.Compression == "gzip"}
}

// encode returns the NDJSON bulk body for records: a create action naming
// the record's index, then the document. The document is the JSON record of
// the user-facing contract with an @timestamp field in front, which data
// streams require and Kibana picks by default. The result is valid until the
// next call.
func (e *encoder) encode(records []model.LogRecord) ([]byte, error) {
	b := e.body[:0]
	for i := range records {
		r := &records[i]
		b = append(b, `{"create":{"_index":"`...)
		b = append(b, e.index.name(r.Time)...)
		b = append(b, '"')
		if e.pipeline != "" {
			b = append(b, `,"pipeline":`...)
			b = appendQuoted(b, e.pipeline)
		}
		b = append(b, "}}\n"...)
		b = append(b, `{"@timestamp":"`...)
		b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
		e.doc = sinks.AppendJSON(e.doc[:0], *r)
		b = append(b, e.doc[1:]...) // the record without its opening brace
		b = append(b, '\n')
	}
	e.body = b
	if !e.gzip {
		return b, nil
	}
	e.zbuf.Reset()
	if e.zw == nil {
		zw, err := gzip.NewWriterLevel(&e.zbuf, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		e.zw = zw
	} else {
		e.zw.Reset(&e.zbuf)
	}
	if _, err := e.zw.Write(b); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.zbuf.Bytes(), nil
}

// appendQuoted appends a config string (a pipeline name) as a JSON string.
func appendQuoted(b []byte, s string) []byte {
	// Pipeline names are plain identifiers in practice; escape the two
	// characters that could break the action line anyway.
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			if c >= 0x20 {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}
