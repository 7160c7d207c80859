package collector

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
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
	// envSoakDebugLog names a file for the collectors' debug log (which
	// files they open and close, where), to study a failure.
	envSoakDebugLog = "OPSHUB_COLLECTOR_SOAK_DEBUG_LOG"
	// envSoakKeep names a directory to write the collectors' output to
	// (out.txt, "<pod>\t<line>" per line), kept after the test.
	envSoakKeep = "OPSHUB_COLLECTOR_SOAK_KEEP"

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
	// A line without a tab marks where this run's output starts.
	if _, err := out.f.WriteString("start\n"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var logger *slog.Logger
	if path := os.Getenv(envSoakDebugLog); path != "" {
		lf, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		logger = slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(Options{
		Logger:         logger,
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
	if dir := os.Getenv(envSoakKeep); dir != "" {
		outPath = filepath.Join(dir, "out.txt")
		os.Remove(outPath)
	}
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
		sinktest.WaitFor(t, time.Minute, "the collector to keep up", func() bool {
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
	sinktest.WaitFor(t, 2*time.Minute, "every line to arrive", func() bool {
		if fi, err := os.Stat(outPath); err != nil || fi.Size() < complete {
			return false
		}
		got = readSoakOutput(t, outPath)
		for i := range pods {
			if highest(got[fmt.Sprintf("pod%02d", i)]) < perPod {
				return false
			}
		}
		return true
	})
	maxDup := 0
	for i := range pods {
		pod := fmt.Sprintf("pod%02d", i)
		v := checkSoakOrder(got[pod], perPod, soakBatchLines)
		for _, p := range v.problems {
			t.Errorf("%s: %s", pod, p)
		}
		maxDup = max(maxDup, v.maxDupPerRun)
	}
	t.Logf("all %d lines arrived in %s; most lines repeated after one restart for one container: %d (a batch is %d)", perPod*pods, time.Since(began).Round(time.Millisecond), maxDup, soakBatchLines)
}

// soakVerdict is what checkSoakOrder found in one container's output.
type soakVerdict struct {
	problems     []string
	maxDupPerRun int
}

// checkSoakOrder checks one container's received sequence numbers, with 0
// where a collector run started: every line 1..n arrives; a line seen for
// the first time is always the one after the highest seen so far (no line
// overtakes an older one, within a file or across a rotation); and after a
// restart at most batch lines arrive again (the one batch in flight when
// the collector was killed: a container's files are read one at a time,
// oldest first, so only one of them has a batch in flight).
func checkSoakOrder(seqs []int, n, batch int) soakVerdict {
	var v soakVerdict
	seen := make([]bool, n+1)
	highest, dups, reordered, first := 0, 0, 0, ""
	endRun := func() {
		if dups > batch {
			v.problems = append(v.problems, fmt.Sprintf("%d lines arrived again after one restart, want at most one batch (%d)", dups, batch))
		}
		v.maxDupPerRun = max(v.maxDupPerRun, dups)
		dups = 0
	}
	for _, s := range seqs {
		switch {
		case s == 0:
			endRun()
		case s < 0 || s > n:
			v.problems = append(v.problems, fmt.Sprintf("line %d was never written", s))
		case seen[s]:
			dups++
		case s != highest+1:
			if reordered == 0 {
				first = fmt.Sprintf("line %d arrived right after line %d", s, highest)
			}
			reordered++
			seen[s] = true
			highest = max(highest, s)
		default:
			seen[s] = true
			highest = s
		}
	}
	endRun()
	if reordered > 0 {
		v.problems = append(v.problems, fmt.Sprintf("%d lines arrived before an older line; the first: %s", reordered, first))
	}
	missing := 0
	for s := 1; s <= n; s++ {
		if !seen[s] {
			missing++
		}
	}
	if missing > 0 {
		v.problems = append(v.problems, fmt.Sprintf("%d of %d lines never arrived", missing, n))
	}
	return v
}

func TestCheckSoakOrder(t *testing.T) {
	tests := []struct {
		name     string
		seqs     []int
		problems int
	}{
		{"in order", []int{0, 1, 2, 3, 4}, 0},
		{"a batch again after a restart", []int{0, 1, 2, 3, 0, 2, 3, 4}, 0},
		{"two batches again after a restart", []int{0, 1, 2, 3, 0, 1, 2, 3, 4}, 1},
		{"a rotated file's rest after the new file", []int{0, 1, 3, 4, 2}, 1},
		{"a line lost", []int{0, 1, 2, 4}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := checkSoakOrder(tt.seqs, 4, 2); len(v.problems) != tt.problems {
				t.Errorf("problems %q, want %d", v.problems, tt.problems)
			}
		})
	}
}

type closeBoth struct {
	io.WriteCloser
	f *crilog.File
}

func (c closeBoth) Close() error {
	c.WriteCloser.Close()
	return c.f.Close()
}

func highest(seqs []int) int {
	m := 0
	for _, s := range seqs {
		m = max(m, s)
	}
	return m
}

// readSoakOutput returns the sequence numbers received per pod, in order,
// with a 0 for every pod where a collector run started.
func readSoakOutput(t *testing.T, path string) map[string][]int {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string][]int{}
	run, lastRun := 0, map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "start" {
			run++
			continue
		}
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
		if lastRun[pod] != run {
			lastRun[pod] = run
			out[pod] = append(out[pod], 0)
		}
		out[pod] = append(out[pod], n)
	}
	return out
}
