package sinktest

import (
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// BenchEncoding benchmarks a destination's encoding of AccessLogBatch:
// encode turns the batch into what goes on the wire and returns its
// length. It reports the log lines' bytes as throughput, allocations, MiB
// per CPU second (which, unlike wall time, holds up on a busy machine; run
// with -cpu 1) and wire bytes per raw byte.
func BenchEncoding(b *testing.B, encode func([]model.LogRecord) (int, error)) {
	recs, n := AccessLogBatch()
	b.SetBytes(n)
	b.ReportAllocs()
	var out int
	cpu := CPUTime()
	for b.Loop() {
		var err error
		if out, err = encode(recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/(CPUTime()-cpu).Seconds()/(1<<20), "MiB/cpu-s")
	b.ReportMetric(float64(out)/float64(n), "wire/raw")
}

// CPUTime is the CPU time the process has used, user and system, on every
// thread. Throughput per CPU second is what "per core" means.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
