package elasticsearch

import (
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// BenchmarkEncodeBulk measures the NDJSON bulk body, plain and gzipped;
// throughput counts the log lines' bytes.
func BenchmarkEncodeBulk(b *testing.B) {
	for _, compression := range []string{"none", "gzip"} {
		b.Run(compression, func(b *testing.B) {
			recs, n := sinktest.AccessLogBatch()
			enc := newEncoder(Config{Index: DefaultIndex, Compression: compression})
			b.SetBytes(n)
			b.ReportAllocs()
			var out int
			cpu := cpuTime()
			for b.Loop() {
				body, err := enc.encode(recs)
				if err != nil {
					b.Fatal(err)
				}
				out = len(body)
			}
			b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu).Seconds()/(1<<20), "MiB/cpu-s")
			b.ReportMetric(float64(out)/float64(n), "wire/raw")
		})
	}
}

// cpuTime is the CPU time the process has used. Throughput per CPU second
// is what "per core" means, and unlike wall time it holds up on a busy
// machine; run with -cpu 1.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
