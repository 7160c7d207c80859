package collector

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/sinks"
)

// numbered returns CRI records "line <i>" for i in [from, to].
func numbered(from, to int) string {
	var b strings.Builder
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s stdout F line %03d %s\n", ts.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i, strings.Repeat("x", 40))
	}
	return b.String()
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

func gzipFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// runUntil runs a collector with the state directory state until stop is
// called; stop waits for it to write its checkpoints.
func runUntil(t *testing.T, root, state string, out *memOutput) (stop func()) {
	t.Helper()
	_, stop = runWith(t, Options{Roots: []string{root}, StateDir: state, Output: out, RescanInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	return stop
}

// runWith runs a collector with opts until stop is called or the test ends;
// stop reports an error Run returned.
func runWith(t *testing.T, opts Options) (c *Collector, stop func()) {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("collector: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

func lineNumbers(t *testing.T, out *memOutput) []int {
	t.Helper()
	var got []int
	for _, r := range out.records() {
		var n int
		if _, err := fmt.Sscanf(r.Log, "line %d", &n); err != nil {
			t.Fatalf("unexpected line %q", r.Log)
		}
		got = append(got, n)
	}
	return got
}

// TestRotationWhileStartingKeepsOrder: a collector stopped part-way
// through a file starts again while the file rotates under the first scan's
// feet. The lines it had not read arrive before the new file's, once each.
func TestRotationWhileStartingKeepsOrder(t *testing.T) {
	tests := []struct {
		name string
		// down runs while the collector is stopped, after lines 11-20
		// were appended to 0.log.
		down func(t *testing.T, dir string)
		// rotate runs right after the restarted collector listed the
		// container directory for the first time. Between them, down and
		// rotate write lines 21-30.
		rotate func(t *testing.T, dir string)
	}{
		{
			name: "kubelet rename and create",
			rotate: func(t *testing.T, dir string) {
				if err := os.Rename(filepath.Join(dir, "0.log"), filepath.Join(dir, "0.log.20261124-100000")); err != nil {
					t.Fatal(err)
				}
				appendFile(t, filepath.Join(dir, "0.log"), numbered(21, 30))
			},
		},
		{
			name: "kubelet compresses the rotated file",
			down: func(t *testing.T, dir string) {
				if err := os.Rename(filepath.Join(dir, "0.log"), filepath.Join(dir, "0.log.20261124-100000")); err != nil {
					t.Fatal(err)
				}
				appendFile(t, filepath.Join(dir, "0.log"), numbered(21, 25))
			},
			rotate: func(t *testing.T, dir string) {
				old := filepath.Join(dir, "0.log.20261124-100000")
				gzipFile(t, old, old+".gz")
				if err := os.Remove(old); err != nil {
					t.Fatal(err)
				}
				appendFile(t, filepath.Join(dir, "0.log"), numbered(26, 30))
			},
		},
		{
			name: "copytruncate",
			rotate: func(t *testing.T, dir string) {
				cur := filepath.Join(dir, "0.log")
				copyFile(t, cur, cur+".1")
				if err := os.Truncate(cur, 0); err != nil {
					t.Fatal(err)
				}
				appendFile(t, cur, numbered(21, 30))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, state := t.TempDir(), t.TempDir()
			dir := filepath.Join(root, "demo_web-1_uid1", "web")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			appendFile(t, filepath.Join(dir, "0.log"), numbered(1, 10))
			first := &memOutput{}
			stop := runUntil(t, root, state, first)
			sinktest.WaitFor(t, 10*time.Second, "lines 1-10", func() bool { return len(first.records()) == 10 })
			stop()

			appendFile(t, filepath.Join(dir, "0.log"), numbered(11, 20))
			if tt.down != nil {
				tt.down(t, dir)
			}
			var once sync.Once
			testHookListed = func(d string) {
				if d == dir {
					once.Do(func() { tt.rotate(t, dir) })
				}
			}
			t.Cleanup(func() { testHookListed = nil })
			second := &memOutput{}
			stop = runUntil(t, root, state, second)
			var want []int
			for i := 11; i <= 30; i++ {
				want = append(want, i)
			}
			sinktest.WaitFor(t, 10*time.Second, "lines 11-30", func() bool {
				got := lineNumbers(t, second)
				for _, n := range want {
					if !slices.Contains(got, n) {
						return false
					}
				}
				return true
			})
			stop()
			if got := lineNumbers(t, second); !slices.Equal(got, want) {
				t.Errorf("after the restart got lines %v, want 11-30 in order", got)
			}
		})
	}
}

// refusingOutput refuses the first batch it is given, then keeps records.
type refusingOutput struct {
	memOutput
	refused sync.Once
}

func (o *refusingOutput) Send(ctx context.Context, b sinks.Batch) error {
	refuse := false
	o.refused.Do(func() { refuse = true })
	if refuse {
		return errors.New("sink unavailable")
	}
	return o.memOutput.Send(ctx, b)
}

// TestRefusedBatchKeepsOrder: when the sinks refuse a rotated file's batch,
// the lines are sent again, and the newer file's lines still come after.
func TestRefusedBatchKeepsOrder(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "0.log.20261124-100000"), numbered(1, 10))
	appendFile(t, filepath.Join(dir, "0.log"), numbered(11, 20))
	out := &refusingOutput{}
	startCollector(t, root, out, nil)
	var want []int
	for i := 1; i <= 20; i++ {
		want = append(want, i)
	}
	sinktest.WaitFor(t, 10*time.Second, "lines 1-20", func() bool {
		got := lineNumbers(t, &out.memOutput)
		for _, n := range want {
			if !slices.Contains(got, n) {
				return false
			}
		}
		return true
	})
	if got := lineNumbers(t, &out.memOutput); !slices.Equal(got, want) {
		t.Errorf("got lines %v, want 1-20 in order", got)
	}
}

// TestBrokenArchiveDoesNotStopNewerFiles: a compressed rotated file that
// does not decompress is skipped (and logged); the container's newer files
// are read.
func TestBrokenArchiveDoesNotStopNewerFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0.log.20261124-100000.gz"), []byte("not gzip at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "0.log"), numbered(1, 5))
	out := &memOutput{}
	startCollector(t, root, out, nil)
	sinktest.WaitFor(t, 10*time.Second, "lines 1-5", func() bool { return len(out.records()) == 5 })
}

// TestCopyBeingWrittenIsNotReadTwice: logrotate's copytruncate creates the
// copy and then fills it. A scan that sees the copy still empty must not
// take it for a new file (and read again, from its start, the lines the
// collector read from the original).
func TestCopyBeingWrittenIsNotReadTwice(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(dir, "0.log")
	appendFile(t, cur, numbered(1, 10))
	out := &memOutput{}
	var mu sync.Mutex
	listedEmpty, filled := false, false
	testHookListed = func(d string) {
		if d != dir {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stat(cur + ".1"); err == nil && !listedEmpty {
			listedEmpty = true // this scan looks at the copy while it is empty
			return
		}
		if listedEmpty && !filled {
			// The next scan: the copy is filled now, the original
			// truncated and written on.
			filled = true
			appendFile(t, cur+".1", numbered(1, 15))
			if err := os.Truncate(cur, 0); err != nil {
				t.Error(err)
			}
			appendFile(t, cur, numbered(16, 20))
		}
	}
	t.Cleanup(func() { testHookListed = nil })
	startCollector(t, root, out, nil)
	sinktest.WaitFor(t, 10*time.Second, "lines 1-10", func() bool { return len(out.records()) == 10 })
	appendFile(t, cur, numbered(11, 15))
	sinktest.WaitFor(t, 10*time.Second, "lines 11-15", func() bool { return len(out.records()) == 15 })
	if err := os.WriteFile(cur+".1", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := 1; i <= 20; i++ {
		want = append(want, i)
	}
	sinktest.WaitFor(t, 15*time.Second, "lines 16-20", func() bool { return slices.Contains(lineNumbers(t, out), 20) })
	// Give a wrongly opened copy the time to be read.
	time.Sleep(2 * rotatedGrace)
	if got := lineNumbers(t, out); !slices.Equal(got, want) {
		t.Errorf("got lines %v, want 1-20 once, in order", got)
	}
}
