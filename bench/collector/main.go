// Command collector-load measures the log collector under load: a child
// process writes CRI log files in the kubelet's layout at a fixed rate, with
// rotation, while the collector (in this process) tails them into an output
// that discards and acknowledges at once. It reports lines/s, MiB/s, the
// collector's CPU seconds per GiB and its peak RSS (the writer's are not
// counted: it is another process).
//
//	go run ./bench/collector -files 500 -rate 20000 -duration 60s
//	go run ./bench/collector -files 8 -rate 0 -mib 1024 -rotate-bytes 4294967296   # drain as fast as possible
//	go build -o bin/ ./cmd/opshub ./bench/collector && bin/collector -e2e -opshub bin/opshub -rounds 3
//
// With -rate 0 the writer first writes -mib MiB in total as fast as it can,
// and the collector then drains it: that measures throughput.
//
// With -e2e it measures the whole path instead (e2e.go): `opshub run` and
// Fluent Bit each move the same CRI files into the same Loki receiver, in
// turn, and it prints each one's lines per CPU second and peak RSS; -sink
// elasticsearch pushes bulk NDJSON instead of Loki's protocol, and -follow
// has a writer child write -files at -rate for -duration while they follow.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/platform/local/crilog"
	"github.com/opshub/opshub/sinks"
)

type discard struct {
	lines, bytes atomic.Int64
}

func (d *discard) Send(_ context.Context, b sinks.Batch) error {
	n := 0
	for _, r := range b.Records {
		n += len(r.Log) + 1
	}
	d.lines.Add(int64(len(b.Records)))
	d.bytes.Add(int64(n))
	b.Ack()
	return nil
}

func main() { os.Exit(run()) }

func run() int {
	var (
		files     = flag.Int("files", 500, "containers writing logs")
		rate      = flag.Int("rate", 20000, "lines per second in total; 0 writes -mib as fast as possible first")
		duration  = flag.Duration("duration", 30*time.Second, "how long to write at -rate")
		lineBytes = flag.Int("line-bytes", 100, "bytes of content per line")
		mib       = flag.Int("mib", 1024, "MiB to write with -rate 0")
		rotate    = flag.Int64("rotate-bytes", crilog.DefaultMaxBytes, "rotation size of each file")
		dir       = flag.String("dir", "", "log root (default: a temporary directory)")
		writer    = flag.Bool("writer", false, "internal: be the writing child")
		profile   = flag.String("cpuprofile", "", "write the collector process's CPU profile to this file")

		e2e       = flag.Bool("e2e", false, "end to end: opshub and the peer move the same CRI files into one Loki receiver")
		opshubBin = flag.String("opshub", "bin/opshub", "with -e2e: the opshub binary")
		peerBin   = flag.String("peer", "/work/shared/peers/fluent-bit", "with -e2e: the fluent-bit binary")
		tools     = flag.String("tools", "opshub,fluent-bit", "with -e2e: the tools to run in each round, in order")
		rounds    = flag.Int("rounds", 2, "with -e2e: rounds of every tool")
		e2eFiles  = flag.Int("e2e-files", 8, "with -e2e: files of the data set")
		e2eLines  = flag.Int("e2e-lines", 250000, "with -e2e: lines per file")
		data      = flag.String("data", filepath.Join(os.TempDir(), "opshub-e2e-data"), "with -e2e: where the data set is written once and kept")
		keep      = flag.Bool("keep", false, "with -e2e: keep each run's directory (configs, logs)")
		opshubEnv = flag.String("opshub-env", "", "with -e2e: extra environment of opshub, space-separated NAME=VALUE")
		sink      = flag.String("sink", "loki", "with -e2e: the protocol both collectors push with: loki or elasticsearch")
		follow    = flag.Bool("follow", false, "with -e2e: instead of the data set, a writer writes -files files at -rate for -duration while the collectors follow")
		appConfig = flag.String("app-config", "", "internal: run opshub run's code in this process with -cpuprofile")
	)
	flag.Parse()
	if *appConfig != "" {
		return appChild(*appConfig, *profile)
	}
	if *e2e {
		o := e2eOptions{
			opshub: *opshubBin, peer: *peerBin, tools: strings.Split(*tools, ","), rounds: *rounds,
			files: *e2eFiles, lines: *e2eLines, data: *data, profile: *profile, keep: *keep,
			opshubEnv: strings.Fields(*opshubEnv), sink: *sink,
		}
		if *follow {
			o.follow = &followLoad{files: *files, rate: *rate, duration: *duration, lineBytes: *lineBytes}
		}
		return runE2E(o)
	}
	if *writer {
		return write(*dir, *files, *rate, *duration, *lineBytes, *mib, *rotate)
	}
	root := *dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "collector-load-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	logs, state := filepath.Join(root, "pods"), filepath.Join(root, "state")
	args := []string{"-writer", "-dir", logs, "-files", strconv.Itoa(*files), "-rate", strconv.Itoa(*rate),
		"-duration", duration.String(), "-line-bytes", strconv.Itoa(*lineBytes), "-mib", strconv.Itoa(*mib),
		"-rotate-bytes", strconv.FormatInt(*rotate, 10)}
	child := exec.Command(os.Args[0], args...)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if *rate == 0 {
		// Throughput: write everything first, then time the drain alone.
		if err := child.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			return 1
		}
	} else if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}

	out := &discard{}
	reg := prometheus.NewRegistry()
	c, err := collector.New(collector.Options{Roots: []string{logs}, StateDir: state, Output: out, Registerer: reg})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	if *profile != "" {
		stopProfile, err := startProfile(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stopProfile()
	}
	cpu0, start := cpuSeconds(), time.Now()
	go func() { done <- c.Run(ctx) }()

	var writerDone <-chan error
	if *rate > 0 {
		wd := make(chan error, 1)
		go func() { wd <- child.Wait() }()
		writerDone = wd
	}
	expected := int64(-1)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLines, lastChange := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
		case err := <-writerDone:
			if err != nil {
				fmt.Fprintln(os.Stderr, "writer:", err)
			}
			writerDone = nil
			expected = countLines(logs)
			continue
		case <-tick.C:
			n := out.lines.Load()
			if n != lastLines {
				lastLines, lastChange = n, time.Now()
			}
			if *rate == 0 && time.Since(lastChange) > 2*time.Second && n > 0 {
				break
			}
			if expected >= 0 && n >= expected {
				break
			}
			continue
		}
		break
	}
	elapsed := time.Since(start)
	if *rate == 0 {
		elapsed = lastChange.Sub(start)
	}
	cpu := cpuSeconds() - cpu0
	cancel()
	<-done
	lines, bytes := out.lines.Load(), out.bytes.Load()
	gib := float64(bytes) / (1 << 30)
	fmt.Printf("files=%d rate=%d line_bytes=%d\n", *files, *rate, *lineBytes)
	fmt.Printf("lines=%d elapsed=%s lines_per_s=%.0f mib_per_s=%.1f cpu_s=%.2f cpu_s_per_gib=%.2f peak_rss_mib=%.1f\n",
		lines, elapsed.Round(time.Millisecond), float64(lines)/elapsed.Seconds(), float64(bytes)/(1<<20)/elapsed.Seconds(),
		cpu, cpu/gib, peakRSSMiB())
	fmt.Printf("checkpoint_writes=%.0f checkpoint_bytes=%d\n", counter(reg, "opshub_collector_checkpoint_writes_total"), fileSize(filepath.Join(state, "checkpoints.json")))
	return 0
}

// startProfile starts this process's CPU profile into path.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// write is the child: it writes numbered lines to files through crilog,
// which rotates them like the kubelet.
func write(root string, files, rate int, duration time.Duration, lineBytes, mib int, rotate int64) int {
	ws := make([]*crilog.File, files)
	streams := make([]interface{ Write([]byte) (int, error) }, files)
	for i := range files {
		f, err := crilog.Open(filepath.Join(root, fmt.Sprintf("load_pod%04d_uid%04d", i, i), "c"), 0, crilog.Options{MaxBytes: rotate})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ws[i], streams[i] = f, f.Stream(crilog.Stdout)
	}
	defer func() {
		for _, f := range ws {
			f.Close()
		}
	}()
	line := []byte(strings.Repeat("x", lineBytes-1) + "\n")
	if rate == 0 {
		total := int64(mib) << 20
		var buf []byte
		for range 64 {
			buf = append(buf, line...)
		}
		for written := int64(0); written < total; {
			for _, s := range streams {
				s.Write(buf)
				written += int64(len(buf))
			}
		}
		return 0
	}
	// 100 ticks per second; each writes rate/100 lines spread over the files.
	perTick := max(1, rate/100)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(duration)
	next := 0
	for time.Now().Before(end) {
		<-tick.C
		for range perTick {
			streams[next].Write(line)
			next = (next + 1) % files
		}
	}
	return 0
}

// countLines counts the lines in every file under root, gzipped ones aside
// (the collector read those before they were compressed).
func countLines(root string) int64 {
	var n int64
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(path, ".gz") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil {
			n += int64(strings.Count(string(b), "\n"))
		}
		return nil
	})
	return n
}

// counter reads a counter from reg, 0 if it is not there.
func counter(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}
