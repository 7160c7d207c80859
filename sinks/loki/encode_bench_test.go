package loki

import (
	"testing"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// BenchmarkEncode measures protobuf encoding plus snappy compression of a
// batch; throughput counts the log lines' bytes.
func BenchmarkEncode(b *testing.B) {
	enc := newEncoder(Config{LabelKeys: []string{"team"}}, false)
	sinktest.BenchEncoding(b, func(recs []model.LogRecord) (int, error) {
		body, err := enc.encode(recs)
		return len(body), err
	})
}
