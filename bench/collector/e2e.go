package main

// The end-to-end mode: opshub and a peer collector (Fluent Bit) move the
// same CRI files into the same counting Loki receiver, one after the other
// in one run, and the tool prints each one's lines per CPU second and peak
// RSS, taken from /proc while it runs (every thread; the receiver's work is
// this process's and not counted).

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
)

type e2eOptions struct {
	opshub    string // opshub binary
	peer      string // fluent-bit binary
	tools     []string
	rounds    int
	files     int
	lines     int
	data      string // where the data set is kept between runs
	profile   string // CPU profile of opshub (run in-process in a child of this tool)
	keep      bool
	opshubEnv []string
	// sink is the protocol both collectors push with: loki or
	// elasticsearch (bulk NDJSON).
	sink string
	// follow, when set, replaces the data set: a writer child writes at a
	// rate into the watched root while the collector follows it.
	follow *followLoad
}

// followLoad is the writer child's load: files written at rate lines per
// second in total for duration.
type followLoad struct {
	files, rate, lineBytes int
	duration               time.Duration
}

// receiver counts the entries of Loki push requests: protobuf + snappy (opshub)
// or JSON, maybe gzipped (Fluent Bit). It answers 204 at once.
type receiver struct {
	entries  atomic.Int64
	requests atomic.Int64
	bytes    atomic.Int64
	errors   atomic.Int64
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rv.errors.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rv.bytes.Add(int64(len(body)))
	if strings.HasSuffix(r.URL.Path, "/_bulk") {
		// An action line and a document per entry; an answer without
		// errors takes every document.
		rv.entries.Add(int64(bytes.Count(body, []byte("\n")) / 2))
		rv.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"took":1,"errors":false,"items":[]}`)
		return
	}
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			rv.errors.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	n, err := countEntries(r.Header.Get("Content-Type"), body)
	if err != nil {
		rv.errors.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rv.entries.Add(int64(n))
	rv.requests.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// countEntries counts the entries of a push body without decoding it all,
// so that the receiver costs the machine little next to the tools measured.
func countEntries(contentType string, body []byte) (int, error) {
	if strings.HasPrefix(contentType, "application/json") {
		// Every entry is ["<digits>", …]: a quote inside a JSON string is
		// escaped, so `["` followed by digits and `"` is always an entry's
		// start.
		n := 0
		for {
			i := bytes.Index(body, []byte(`["`))
			if i < 0 {
				return n, nil
			}
			body = body[i+2:]
			j := 0
			for j < len(body) && body[j] >= '0' && body[j] <= '9' {
				j++
			}
			if j > 0 && j < len(body) && body[j] == '"' {
				n++
			}
		}
	}
	raw, err := s2.Decode(nil, body)
	if err != nil {
		return 0, err
	}
	// PushRequest: streams = 1; Stream: entries = 2. Walk the wire form.
	n := 0
	err = walkFields(raw, func(num uint64, v []byte) error {
		if num != 1 {
			return nil
		}
		return walkFields(v, func(num uint64, _ []byte) error {
			if num == 2 {
				n++
			}
			return nil
		})
	})
	return n, err
}

// walkFields calls f with each length-delimited field of a protobuf
// message; other wire types are skipped.
func walkFields(b []byte, f func(num uint64, v []byte) error) error {
	for len(b) > 0 {
		key, k := binary.Uvarint(b)
		if k <= 0 {
			return errors.New("bad protobuf key")
		}
		b = b[k:]
		switch key & 7 {
		case 0:
			_, k := binary.Uvarint(b)
			if k <= 0 {
				return errors.New("bad protobuf varint")
			}
			b = b[k:]
		case 1:
			b = b[min(8, len(b)):]
		case 5:
			b = b[min(4, len(b)):]
		case 2:
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return errors.New("bad protobuf length")
			}
			if err := f(key>>3, b[k:k+int(l)]); err != nil {
				return err
			}
			b = b[k+int(l):]
		default:
			return errors.New("unexpected protobuf wire type")
		}
	}
	return nil
}

// e2eResult is one tool's run.
type e2eResult struct {
	tool            string
	lines, received int64
	wall            time.Duration
	cpu             float64
	peakRSS         float64 // MiB
	// peakAnon and peakFile split the highest RSS sampled (every 10 ms)
	// into anonymous memory and mapped file pages (the binary's code).
	peakAnon, peakFile  float64
	bytes               int64 // of the log files
	load0, load1        string
	requests, wireBytes int64
	linesPerCPU         float64
}

func runE2E(o e2eOptions) int {
	var dataDir string
	var lines, size int64
	if f := o.follow; f != nil {
		if err := os.MkdirAll(o.data, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dataDir = filepath.Join(o.data, "pods")
		fmt.Printf("follow: %d files written at %d lines/s in total for %s, %d bytes of content a line\n", f.files, f.rate, f.duration, f.lineBytes)
	} else {
		var err error
		dataDir, lines, size, err = ensureDataSet(o.data, o.files, o.lines)
		if err != nil {
			fmt.Fprintln(os.Stderr, "data set:", err)
			return 1
		}
		fmt.Printf("data set: %d files, %d lines, %.1f MiB in %s\n", o.files, lines, float64(size)/(1<<20), dataDir)
	}

	rv := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: rv}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results := map[string][]e2eResult{}
	for round := 1; round <= o.rounds && ctx.Err() == nil; round++ {
		for _, tool := range o.tools {
			res, err := runTool(ctx, o, tool, dataDir, port, rv, lines, size)
			if err != nil {
				fmt.Fprintf(os.Stderr, "round %d, %s: %v\n", round, tool, err)
				return 1
			}
			res.linesPerCPU = float64(res.lines) / res.cpu
			fmt.Printf("round %d %-10s lines=%d received=%d wall=%s cpu_s=%.2f lines_per_cpu_s=%.0f mib_per_cpu_s=%.1f peak_rss_mib=%.1f (anon %.1f + file %.1f) requests=%d wire_mib=%.1f load=%s→%s\n",
				round, res.tool, res.lines, res.received, res.wall.Round(time.Millisecond), res.cpu, res.linesPerCPU,
				float64(res.bytes)/(1<<20)/res.cpu, res.peakRSS, res.peakAnon, res.peakFile, res.requests, float64(res.wireBytes)/(1<<20), res.load0, res.load1)
			results[tool] = append(results[tool], res)
		}
	}
	fmt.Println("summary (min–max over rounds):")
	for _, tool := range o.tools {
		rs := results[tool]
		if len(rs) == 0 {
			continue
		}
		lpc := make([]float64, len(rs))
		rss := make([]float64, len(rs))
		anon := make([]float64, len(rs))
		for i, r := range rs {
			lpc[i], rss[i], anon[i] = r.linesPerCPU, r.peakRSS, r.peakAnon
		}
		fmt.Printf("  %-10s %.3f–%.3f M lines per CPU second, peak RSS %.1f–%.1f MiB (anonymous %.1f–%.1f MiB)\n", rs[0].tool,
			slices.Min(lpc)/1e6, slices.Max(lpc)/1e6, slices.Min(rss), slices.Max(rss), slices.Min(anon), slices.Max(anon))
	}
	for _, tool := range o.tools {
		a, b := results[tool], results["fluent-bit"]
		if !strings.HasPrefix(tool, "opshub") || len(a) == 0 || len(b) == 0 {
			continue
		}
		var ratios []float64
		for i := range min(len(a), len(b)) {
			ratios = append(ratios, a[i].linesPerCPU/b[i].linesPerCPU)
		}
		fmt.Printf("  %s / fluent-bit lines per CPU second, per round: %s\n", a[0].tool, formatRatios(ratios))
	}
	return 0
}

func formatRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatFloat(r, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

// runTool moves the data set into a fresh watched root, starts the tool
// first, and measures until the receiver has every line.
func runTool(ctx context.Context, o e2eOptions, tool, dataDir string, port int, rv *receiver, lines, size int64) (e2eResult, error) {
	res := e2eResult{tool: tool, lines: lines, bytes: size}
	work, err := os.MkdirTemp(filepath.Dir(dataDir), "run-")
	if err != nil {
		return res, err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	root := filepath.Join(work, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return res, err
	}
	var cmd *exec.Cmd
	rv.entries.Store(0)
	before := int64(0)
	kind, bin, _ := strings.Cut(tool, "=")
	if bin != "" {
		res.tool = kind
	}
	switch {
	case strings.HasPrefix(kind, "opshub"):
		cfg := filepath.Join(work, "opshub.yaml")
		httpPort, _ := sinktest.FreeLoopbackPort() // 0, any port, when none is found
		text := fmt.Sprintf(`dataDir: %s
server:
  listen: 127.0.0.1:%d
platform:
  kind: local
collector:
  paths: [%s]
sinks:
  - name: bench
%s`, filepath.Join(work, "state"), httpPort, root, opshubSink(o.sink, port))
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			return res, err
		}
		if o.profile != "" {
			self, _ := os.Executable()
			cmd = exec.Command(self, "-app-config", cfg, "-cpuprofile", o.profile)
		} else {
			cmd = exec.Command(cmp.Or(bin, o.opshub), "run", "-c", cfg, "--log-level", "warn")
		}
		cmd.Env = append(os.Environ(), o.opshubEnv...)
		before = 1 // the sink's validation line
	case kind == "fluent-bit":
		cfg := filepath.Join(work, "fluent-bit.conf")
		text := fmt.Sprintf(`[SERVICE]
    Flush        1
    Log_Level    warn
[INPUT]
    Name              tail
    Path              %s/*/*/*.log
    multiline.parser  cri
    Read_from_Head    true
    Refresh_Interval  1
    Buffer_Chunk_Size 1MB
    Buffer_Max_Size   4MB
    Mem_Buf_Limit     64MB
%s`, root, peerOutput(o.sink, port))
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			return res, err
		}
		cmd = exec.Command(cmp.Or(bin, o.peer), "-c", cfg)
	default:
		return res, fmt.Errorf("unknown tool %q (opshub, fluent-bit, or NAME=BINARY with a name starting with one of them)", tool)
	}
	logf, err := os.Create(filepath.Join(work, kind+".log"))
	if err != nil {
		return res, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stopTool := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	defer stopTool()
	// Started: opshub has sent its sink's validation line; Fluent Bit is
	// given a second to set up its inputs.
	deadline := time.Now().Add(30 * time.Second)
	for rv.entries.Load() < before {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%s did not start (see %s)", tool, logf.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	pid := cmd.Process.Pid
	cpu0, err := procCPU(pid)
	if err != nil {
		return res, err
	}
	rv.entries.Store(0)
	rv.requests.Store(0)
	rv.bytes.Store(0)
	res.load0 = loadAvg()
	start := time.Now()
	var writerDone chan error
	if f := o.follow; f != nil {
		// The writer child writes into the watched root; the lines to
		// wait for are known once it is done.
		lines = math.MaxInt64
		self, _ := os.Executable()
		w := exec.Command(self, "-writer", "-dir", root, "-files", strconv.Itoa(f.files), "-rate", strconv.Itoa(f.rate),
			"-duration", f.duration.String(), "-line-bytes", strconv.Itoa(f.lineBytes))
		w.Stdout, w.Stderr = logf, logf
		if err := w.Start(); err != nil {
			return res, err
		}
		writerDone = make(chan error, 1)
		go func() { writerDone <- w.Wait() }()
		defer func() {
			if writerDone != nil {
				w.Process.Kill()
				<-writerDone
			}
		}()
	} else {
		moved, err := moveAll(dataDir, root)
		defer moveBack(moved)
		if err != nil {
			return res, err
		}
	}
	lastN, lastChange := int64(0), time.Now()
	for {
		if a, f := procRSS(pid); a+f > res.peakAnon+res.peakFile {
			res.peakAnon, res.peakFile = a, f
		}
		select {
		case err := <-exited:
			exited <- err // for stopTool
			return res, fmt.Errorf("%s exited: %v (see %s)", tool, err, logf.Name())
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-writerDone:
			writerDone = nil
			if err != nil {
				return res, fmt.Errorf("writer: %v", err)
			}
			lines, res.bytes = countLines(root), treeSize(root)
			res.lines = lines
			continue
		case <-time.After(10 * time.Millisecond):
		}
		n := rv.entries.Load()
		if n >= lines {
			break
		}
		if n != lastN {
			lastN, lastChange = n, time.Now()
		}
		if time.Since(lastChange) > 60*time.Second {
			return res, fmt.Errorf("%s stalled at %d of %d lines (see %s)", tool, n, lines, logf.Name())
		}
	}
	res.wall = time.Since(start)
	cpu1, err := procCPU(pid)
	if err != nil {
		return res, err
	}
	res.cpu = cpu1 - cpu0
	res.peakRSS = procHWM(pid)
	res.load1 = loadAvg()
	res.requests, res.wireBytes = rv.requests.Load(), rv.bytes.Load()
	stopTool()
	res.received = rv.entries.Load()
	return res, nil
}

// opshubSink is the bench sink's type and keys in opshub's config.
func opshubSink(sink string, port int) string {
	if sink == "elasticsearch" {
		return fmt.Sprintf("    type: elasticsearch\n    url: http://127.0.0.1:%d\n", port)
	}
	return fmt.Sprintf("    type: loki\n    url: http://127.0.0.1:%d/loki/api/v1/push\n", port)
}

// peerOutput is Fluent Bit's output section: the peers' README's for loki,
// the es output with its defaults (and the type name left out, as
// Elasticsearch 8 wants) for elasticsearch.
func peerOutput(sink string, port int) string {
	if sink == "elasticsearch" {
		return fmt.Sprintf("[OUTPUT]\n    Name   es\n    Match  *\n    Host   127.0.0.1\n    Port   %d\n    Suppress_Type_Name On\n", port)
	}
	return fmt.Sprintf("[OUTPUT]\n    Name   loki\n    Match  *\n    Host   127.0.0.1\n    Port   %d\n    Labels job=fluentbit\n", port)
}

// treeSize is the bytes of the files under root.
func treeSize(root string) int64 {
	var n int64
	filepath.Walk(root, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// moveAll renames every pod directory of src into dst and returns the
// moves made, to undo them.
func moveAll(src, dst string) ([][2]string, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	var moved [][2]string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if err := os.Rename(from, to); err != nil {
			return moved, err
		}
		moved = append(moved, [2]string{from, to})
	}
	return moved, nil
}

func moveBack(moved [][2]string) {
	for _, m := range moved {
		if err := os.Rename(m[1], m[0]); err != nil {
			fmt.Fprintln(os.Stderr, "move the data set back:", err)
		}
	}
}

// ensureDataSet writes (once) files × lines CRI lines in the kubelet's
// layout under dir/pods: content of 60–200 bytes from a fixed seed, times
// increasing by a few microseconds per line. It returns the pods directory,
// the line count and the bytes.
func ensureDataSet(dir string, files, lines int) (string, int64, int64, error) {
	pods := filepath.Join(dir, "pods")
	marker := filepath.Join(dir, fmt.Sprintf("complete-%dx%d", files, lines))
	if _, err := os.Stat(marker); err == nil {
		return pods, int64(files) * int64(lines), treeSize(pods), nil
	}
	os.RemoveAll(dir)
	var size int64
	words := []string{"GET", "POST", "PUT", "/api/v1/items", "/api/v1/orders", "/healthz", "/static/app.js", "user=alice", "user=bob",
		"status=200", "status=404", "status=500", "latency_ms=12", "latency_ms=340", "bytes=5123", "request_id=9f1c2a7e",
		"trace=4bf92f3577b34da6", "level=info", "level=warn", "level=error", `msg="request served"`, `msg="cache miss"`,
		`msg="retrying upstream"`, "component=http", "component=db", "component=queue", "region=eu-west-1"}
	base := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for i := range files {
		rng := rand.New(rand.NewPCG(uint64(i), 26))
		path := filepath.Join(pods, fmt.Sprintf("bench_pod%02d_%08x-0000-4000-8000-%012x", i, i, i), fmt.Sprintf("app%d", i%3), "0.log")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", 0, 0, err
		}
		f, err := os.Create(path)
		if err != nil {
			return "", 0, 0, err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		var line []byte
		for n := range lines {
			t := base.Add(time.Duration(n) * 7 * time.Microsecond)
			line = t.AppendFormat(line[:0], "2006-01-02T15:04:05.000000000Z07:00")
			stream := " stdout F "
			if n%10 == 9 {
				stream = " stderr F "
			}
			line = append(line, stream...)
			want := 60 + rng.IntN(141)
			content := len(line)
			line = strconv.AppendInt(line, int64(n), 10)
			for len(line)-content < want {
				line = append(line, ' ')
				line = append(line, words[rng.IntN(len(words))]...)
			}
			line = append(line[:content+want], '\n')
			w.Write(line)
			size += int64(len(line))
		}
		if err := w.Flush(); err != nil {
			return "", 0, 0, err
		}
		if err := f.Close(); err != nil {
			return "", 0, 0, err
		}
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return "", 0, 0, err
	}
	return pods, int64(files) * int64(lines), size, nil
}

// procCPU is a process's user + system time, every thread, in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// procRSS is a process's anonymous and file-backed RSS in MiB.
func procRSS(pid int) (anon, file float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "RssAnon":
			anon = kb / 1024
		case "RssFile":
			file = kb / 1024
		}
	}
	return anon, file
}

// procHWM is a process's peak RSS in MiB.
func procHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// appChild runs opshub run's code in this process with a CPU profile: the
// same wiring as the binary (app.LoadConfig, app.Run), for -cpuprofile.
func appChild(cfgPath, profile string) int {
	cfg, err := app.LoadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stopProfile, err := startProfile(profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go peakHeapProfile(ctx, strings.TrimSuffix(profile, filepath.Ext(profile))+".heap"+filepath.Ext(profile))
	if err := app.Run(ctx, cfg, app.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// peakHeapProfile writes the in-use heap profile to path each time the heap
// after a collection reaches a new high, so that the file ends up holding
// the profile nearest the peak.
func peakHeapProfile(ctx context.Context, path string) {
	var peak uint64
	var last uint32
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.NumGC == last || ms.HeapAlloc <= peak {
			continue
		}
		last, peak = ms.NumGC, ms.HeapAlloc
		if f, err := os.Create(path); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}
