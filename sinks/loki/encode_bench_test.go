package loki

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// benchRecords is a batch as the collector hands it over: 1000 access-log
// lines of about 120 bytes from 4 streams, with enrichment labels.
func benchRecords() ([]model.LogRecord, int64) {
	recs := make([]model.LogRecord, 1000)
	var n int64
	for i := range recs {
		svc := []string{"web", "api"}[i%2]
		recs[i] = model.LogRecord{
			Time:   time.Date(2026, 11, 24, 4, 0, 0, i*1000, time.UTC),
			Ref:    model.Ref{Project: "demo", Service: svc, Instance: svc + "-7f9c-2", Container: svc},
			Stream: []string{"stdout", "stderr"}[i/2%2],
			Log:    fmt.Sprintf(`10.0.%d.%d - - [24/Nov/2026:04:00:00 +0000] "GET /api/v1/items/%d HTTP/1.1" 200 %d "-" "curl/8.5.0"`, i%256, i%200, i, 1000+i),
			Labels: model.Labels{"app.kubernetes.io/name": svc, "team": "core"},
		}
		n += int64(len(recs[i].Log))
	}
	return recs, n
}

// BenchmarkEncode measures protobuf encoding plus snappy compression of a
// batch; throughput counts the log lines' bytes.
func BenchmarkEncode(b *testing.B) {
	recs, n := benchRecords()
	enc := newEncoder(Config{LabelKeys: []string{"team"}}, false)
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
}

// cpuTime is the CPU time the process has used. Throughput per CPU second
// is what "per core" means, and unlike wall time it holds up on a busy
// machine; run with -cpu 1.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
