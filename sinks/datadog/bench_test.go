package datadog

import (
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/sinks"
)

// BenchmarkEncode measures what Deliver does before the request: each
// record to its intake entry, the entries into payloads within the limits,
// and gzip; throughput counts the log lines' bytes.
func BenchmarkEncode(b *testing.B) {
	recs, n := sinktest.AccessLogBatch()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("apiKey: k\nhostname: node-1\ntags: [env:prod]"), &doc); err != nil {
		b.Fatal(err)
	}
	dest, err := New(sinks.Spec{Name: "dd", Type: "datadog", Settings: plugintest.Decode(b, Plugin.Settings(), doc.Content[0])})
	if err != nil {
		b.Fatal(err)
	}
	d := dest.(*Destination)
	b.SetBytes(n)
	b.ReportAllocs()
	var out int
	cpu := cpuTime()
	for b.Loop() {
		out = 0
		for _, p := range split(d.encodeEntries(recs)) {
			body, err := d.gzip(p.body)
			if err != nil {
				b.Fatal(err)
			}
			out += len(body)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu).Seconds()/(1<<20), "MiB/cpu-s")
	b.ReportMetric(float64(out)/float64(n), "wire/raw")
}

// cpuTime is the CPU time the process has used; run with -cpu 1.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
