// Results on a 2-core virtual machine (AMD EPYC, "Oxide Virtual Turin-like
// Processor", linux/amd64, Go 1.26, ext4), median of five runs of
//
//	go test -run '^$' -bench BenchmarkStream -count 5 ./platform/local/crilog/
//
//	100B lines, one per write                   2.46 µs/op    41 MB/s  0 B/op  0 allocs/op
//	100B lines, 32KiB writes                   29.8 µs/op  1100 MB/s  0 B/op  0 allocs/op (22-64 µs)
//	64KiB lines                                48.3 µs/op  1360 MB/s  0 B/op  0 allocs/op (25-84 µs)
//	100B lines, 32KiB writes, to devnull       10.0 µs/op  3260 MB/s  0 B/op  0 allocs/op (~31 ns/record)
//	64KiB lines, to devnull                     4.5 µs/op 14600 MB/s  0 B/op  0 allocs/op
//	100B lines, 32KiB writes, rotating 10MiB    125 µs/op   262 MB/s  235 B/op 0 allocs/op
//
// One line per Write costs its write(2); writes to disk vary with the page
// cache's writeback; "to devnull" is the package's own cost. With rotation,
// gzip (the kubelet's default level) dominates: about 100 ms per 10 MiB of
// varied log lines (measured apart), during which both streams' Writes wait.

package crilog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func BenchmarkStream(b *testing.B) {
	line100 := text(99) + "\n"
	benchmarks := []struct {
		name    string
		write   string // what one Write gets
		opts    Options
		devNull bool // the log is /dev/null: the package's own cost, no file system
	}{
		// One line per Write: a process that flushes every line, the
		// worst case, as every Write ends with a write(2).
		{"100B lines, one per write", line100, Options{MaxBytes: -1}, false},
		// A pipe read by io.Copy delivers up to 32 KiB at a time.
		{"100B lines, 32KiB writes", strings.Repeat(line100, 327), Options{MaxBytes: -1}, false},
		{"64KiB lines", text(64<<10-1) + "\n", Options{MaxBytes: -1}, false},
		{"100B lines, 32KiB writes, to devnull", strings.Repeat(line100, 327), Options{MaxBytes: -1}, true},
		{"64KiB lines, to devnull", text(64<<10-1) + "\n", Options{MaxBytes: -1}, true},
		// The same with the kubelet's default rotation, gzip included.
		{"100B lines, 32KiB writes, rotating 10MiB", strings.Repeat(line100, 327), Options{}, false},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			dir := b.TempDir()
			if bm.devNull {
				if err := os.Symlink(os.DevNull, filepath.Join(dir, "0.log")); err != nil {
					b.Fatal(err)
				}
			}
			f, err := Open(dir, 0, bm.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			w := f.Stream(Stdout)
			p := []byte(bm.write)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
