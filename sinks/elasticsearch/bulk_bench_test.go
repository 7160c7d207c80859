package elasticsearch

import (
	"testing"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// BenchmarkEncodeBulk measures the NDJSON bulk body, plain and gzipped;
// throughput counts the log lines' bytes.
func BenchmarkEncodeBulk(b *testing.B) {
	for _, compression := range []string{"none", "gzip"} {
		b.Run(compression, func(b *testing.B) {
			enc := newEncoder(Config{Index: DefaultIndex, Compression: compression})
			sinktest.BenchEncoding(b, func(recs []model.LogRecord) (int, error) {
				body, err := enc.encode(recs)
				return len(body), err
			})
		})
	}
}
