package collector

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// criFixture returns about size bytes of CRI records with lineBytes of
// content each, as a busy container writes them.
func criFixture(size, lineBytes int) []byte {
	var b bytes.Buffer
	pad := strings.Repeat("x", lineBytes)
	ts := time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s stdout F %07d %s\n", ts.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano), i, pad[:lineBytes-8])
	}
	return b.Bytes()
}

// cpuTime is the process's CPU time, user and system, on every thread (the
// garbage collector's included). On a machine shared with other work, bytes
// per CPU second is what "per core" means; wall-clock MB/s there mostly
// measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerCPU reports MiB of input per CPU second since cpu0.
func reportPerCPU(b *testing.B, cpu0 time.Duration, bytesPerOp int) {
	b.StopTimer()
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/(1<<20)/cpu.Seconds(), "MiB/cpu-s")
	}
}

// BenchmarkSplitParse measures block reads, line splitting and CRI or
// Docker parsing with partial merging: the per-line hot path, which must
// not allocate.
func BenchmarkSplitParse(b *testing.B) {
	docker := func(size, lineBytes int) []byte {
		var out bytes.Buffer
		pad := strings.Repeat("x", lineBytes-8)
		for i := 0; out.Len() < size; i++ {
			fmt.Fprintf(&out, `{"log":"%07d %s\n","stream":"stdout","time":"2026-11-24T10:00:00.123456789Z"}`+"\n", i, pad)
		}
		return out.Bytes()
	}
	partials := func(size int) []byte {
		var out bytes.Buffer
		pad := strings.Repeat("y", 16<<10)
		for out.Len() < size {
			fmt.Fprintf(&out, "2026-11-24T10:00:00.123456789Z stdout P %s\n2026-11-24T10:00:00.123456789Z stdout F %s\n", pad, pad[:100])
		}
		return out.Bytes()
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"cri 100B lines", criFixture(8<<20, 100)},
		{"cri 1KiB lines", criFixture(8<<20, 1024)},
		{"docker 100B lines", docker(8<<20, 100)},
		{"cri 16KiB partials merged", partials(8 << 20)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, readBufferBytes)
			lines := 0
			d := newDecoder(DefaultMaxLineBytes, time.Now, func(*line) { lines++ })
			r := bytes.NewReader(c.data)
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				r.Reset(c.data)
				lr := newLineReader(r, buf, 0)
				for {
					l, more, ok, _ := lr.next()
					if !ok {
						break
					}
					d.feed(l, more)
				}
			}
			reportPerCPU(b, cpu0, len(c.data))
			b.ReportMetric(float64(lines)/float64(b.N), "lines/op")
		})
	}
}

// BenchmarkReadSplitParseEnrich measures what one core does per byte of a
// log file in the page cache: read, split, parse, and build enriched
// records in batches, as the tailer hands them to the sinks.
func BenchmarkReadSplitParseEnrich(b *testing.B) {
	for _, lineBytes := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB lines", lineBytes), func(b *testing.B) {
			data := criFixture(32<<20, lineBytes)
			path := filepath.Join(b.TempDir(), "0.log")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			ref := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
			labels := model.Labels{"app": "web"}
			buf := make([]byte, readBufferBytes)
			var batch batchBuilder
			records := 0
			perLine := int64(0)
			next := func() {
				if batch.lines() > 0 {
					perLine = int64(batch.size() / batch.lines())
				}
				recs, _ := batch.build(ref, labels)
				records += len(recs)
				batch.reset(batchHint(int64(len(data)), DefaultMaxBatchBytes, DefaultMaxBatchLines, perLine))
			}
			batch.reset(batchHint(int64(len(data)), DefaultMaxBatchBytes, DefaultMaxBatchLines, perLine))
			d := newDecoder(DefaultMaxLineBytes, time.Now, batch.add)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				lr := newLineReader(f, buf, 0)
				for {
					l, more, ok, _ := lr.next()
					if !ok {
						break
					}
					d.feed(l, more)
					if batch.lines() >= DefaultMaxBatchLines || batch.size() >= DefaultMaxBatchBytes {
						next()
					}
				}
				next()
				f.Close()
			}
			reportPerCPU(b, cpu0, len(data))
			b.ReportMetric(float64(records)/float64(b.N), "lines/op")
		})
	}
}
