package collector

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/platform/local/crilog"
)

// The soak test re-executes this test binary as the collector process, so
// that it can be killed with SIGKILL like a real one.
const (
	envSoakChild = "OPSHUB_COLLECTOR_SOAK_CHILD" // "<root>|<state dir>|<output file>"
	// envSoakLines sets the soak's total line count. The default, 200,000,
	// keeps `make test` (with -race) near 30 s; the full run is
	// OPSHUB_COLLECTOR_SOAK_LINES=1000000 OPSHUB_COLLECTOR_SOAK_ROTATE_BYTES=524288.
	envSoakLines = "OPSHUB_COLLECTOR_SOAK_LINES"
	// envSoakRotate sets the rotation size in bytes (default 96 KiB, so
	// that every container rotates several times at the default count).
	envSoakRotate = "OPSHUB_COLLECTOR_SOAK_ROTATE_BYTES"

	soakBatchLines = 500
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envSoakChild); spec != "" {
		os.Exit(soakChild(spec))
	}
	os.Exit(m.Run())
}

// soakChild runs a collector into a file output until it is killed.
func soakChild(spec string) int {
	parts := strings.Split(spec, "|")
	out, err := openFileOutput(parts[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := New(Options{
		Roots:          []string{parts[0]},
		StateDir:       parts[1],
		Output:         out,
		MaxBatchLines:  soakBatchLines,
		RescanInterval: 200 * time.Millisecond,
		PollInterval:   20 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// copyTruncateLog writes CRI records and rotates like logrotate's
// copytruncate: copy the file to <name>.<n>, then truncate it in place.
type copyTruncateLog struct {
	path   string
	f      *os.File
	size   int64
	max    int64
	copies int
}

func (l *copyTruncateLog) Write(p []byte) (int, error) {
	var buf []byte
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		buf = append(buf, stamp+" stdout F "...)
		buf = append(buf, line...)
	}
	if l.size >= l.max {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(buf)
	l.size += int64(n)
	return len(p), err
}

func (l *copyTruncateLog) rotate() error {
	l.copies++
	src, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(fmt.Sprintf("%s.%06d", l.path, l.copies))
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	l.size = 0
	os.Remove(fmt.Sprintf("%s.%06d", l.path, l.copies-4))
	return nil
}

func (l *copyTruncateLog) Close() error { return l.f.Close() }

func envInt(t *testing.T, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return n
}

// TestSurvivesSIGKILLAndRotation is the soak: 50 containers log
// numbered lines (see envSoakLines), half rotated by rename+create with gzip (the
// kubelet's way, through crilog), half by copytruncate; the collector is
// killed with SIGKILL three times while they write. Every line must arrive,
// with at most a batch repeated per file and restart.
func TestSurvivesSIGKILLAndRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak writes 1M lines; skipped with -short")
	}
	const pods = 50
	total := envInt(t, envSoakLines, 200_000)
	rotate := int64(envInt(t, envSoakRotate, 96<<10))
	perPod := total / pods

	root, state := t.TempDir(), t.TempDir()
	outPath := filepath.Join(t.TempDir(), "out.txt")
	writers := make([]io.WriteCloser, pods)
	for i := range pods {
		dir := filepath.Join(root, fmt.Sprintf("soak_pod%02d_uid%02d", i, i), "c")
		if i%2 == 0 {
			f, err := crilog.Open(dir, 0, crilog.Options{MaxBytes: rotate})
			if err != nil {
				t.Fatal(err)
			}
			w := f.Stream(crilog.Stdout)
			writers[i] = closeBoth{w, f}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "0.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		writers[i] = &copyTruncateLog{path: filepath.Join(dir, "0.log"), f: f, max: rotate}
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envSoakChild+"="+root+"|"+state+"|"+outPath)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	child := start()
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })

	const chunk = 100
	pad := strings.Repeat("x", 60)
	var buf []byte
	written := int64(0)
	kills := 0
	began := time.Now()
	for seq := 1; seq <= perPod; seq += chunk {
		for i, w := range writers {
			buf = buf[:0]
			for s := seq; s < seq+chunk && s <= perPod; s++ {
				buf = append(buf, "pod="...)
				buf = append(buf, byte('0'+i/10), byte('0'+i%10))
				buf = append(buf, " seq="...)
				buf = append(buf, fmt.Sprintf("%07d", s)...)
				buf = append(buf, ' ')
				buf = append(buf, pad...)
				buf = append(buf, '\n')
			}
			if _, err := w.Write(buf); err != nil {
				t.Fatal(err)
			}
			written += int64(len(buf))
		}
		// Stay within what rotation keeps (5 files per container): a
		// collector further behind than that loses lines on any node.
		waitFor(t, time.Minute, "the collector to keep up", func() bool {
			fi, err := os.Stat(outPath)
			return err == nil && written-fi.Size() < int64(pods)*rotate
		})
		if kills < 3 && seq > perPod*(kills+1)/4 {
			child.Process.Kill()
			child.Wait()
			kills++
			child = start()
		}
	}
	for _, w := range writers {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d lines (%.1f MiB) in %s, killed the collector %d times", perPod*pods, float64(written)/(1<<20), time.Since(began).Round(time.Millisecond), kills)

	var got map[string][]int
	// An output line is the pod's name and a tab longer than the written
	// line; parse the output only once it can hold every line.
	complete := written + int64(perPod*pods)*int64(len("pod00\t"))
	waitFor(t, 2*time.Minute, "every line to arrive", func() bool {
		if fi, err := os.Stat(outPath); err != nil || fi.Size() < complete {
			return false
		}
		got = readSoakOutput(t, outPath)
		for i := range pods {
			if distinct(got[fmt.Sprintf("pod%02d", i)]) < perPod {
				return false
			}
		}
		return true
	})
	maxDup, reordered := 0, 0
	for i := range pods {
		pod := fmt.Sprintf("pod%02d", i)
		seqs := got[pod]
		// Lines within one file arrive in order by construction (a file is
		// read front to back by one reader at a time); across the files of
		// a container, a rotated file is read before the newer ones. What
		// the collector promises is every line and bounded repeats.
		seen := make([]bool, perPod+1)
		dups, prev := 0, 0
		for _, s := range seqs {
			if seen[s] {
				dups++
			}
			if s < prev && !seen[s] {
				if reordered == 0 {
					t.Logf("%s: line %d arrived after line %d", pod, s, prev)
				}
				reordered++
			}
			seen[s] = true
			prev = s
		}
		maxDup = max(maxDup, dups)
		// One batch per file per restart; a restart can find two files of
		// a container unfinished (the rotated one and the new one).
		if limit := kills * 2 * soakBatchLines; dups > limit {
			t.Errorf("%s: %d duplicate lines, want at most %d", pod, dups, limit)
		}
	}
	if reordered > 0 {
		t.Logf("%d lines arrived after a later line of their container (across a rotation)", reordered)
	}
	t.Logf("all %d lines arrived in %s; most duplicates of one container: %d", perPod*pods, time.Since(began).Round(time.Millisecond), maxDup)
}

type closeBoth struct {
	io.WriteCloser
	f *crilog.File
}

func (c closeBoth) Close() error {
	c.WriteCloser.Close()
	return c.f.Close()
}

func distinct(seqs []int) int {
	m := 0
	for _, s := range seqs {
		m = max(m, s)
	}
	return m
}

// readSoakOutput returns the sequence numbers received per pod, in order.
func readSoakOutput(t *testing.T, path string) map[string][]int {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string][]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		pod, log, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		i := strings.Index(log, "seq=")
		if i < 0 || len(log) < i+11 {
			continue
		}
		n, err := strconv.Atoi(log[i+4 : i+11])
		if err != nil {
			continue
		}
		out[pod] = append(out[pod], n)
	}
	return out
}
