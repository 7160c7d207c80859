package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

func TestHelloNamesTheInstance(t *testing.T) {
	td := startDemo(t, nil, "OPSHUB_INSTANCE=web-7f9c-2", "GREETING=hello")
	code, body, header := td.get(t, "/")
	if code != http.StatusOK || body != "hello from web-7f9c-2 (hello)\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	if got := header.Get("X-Opshub-Instance"); got != "web-7f9c-2" {
		t.Errorf("X-Opshub-Instance = %q", got)
	}
	code, _, header = td.get(t, "/nope")
	if code != http.StatusNotFound || header.Get("X-Opshub-Instance") != "web-7f9c-2" {
		t.Errorf("GET /nope = %d with instance %q, want 404 naming the instance", code, header.Get("X-Opshub-Instance"))
	}

	if code, _, _ := td.control(t, "greeting=bonjour"); code != http.StatusOK {
		t.Fatalf("control greeting: %d", code)
	}
	if _, body, _ := td.get(t, "/"); body != "hello from web-7f9c-2 (bonjour)\n" {
		t.Errorf("after greeting=bonjour: %q", body)
	}
}

func TestStartupLine(t *testing.T) {
	td := startDemo(t, []string{"--log-rate", "0.001", "--memory", "1Mi", "--log-once", "booted"})
	lines := td.stdout.lines()
	want := fmt.Sprintf("opshub-demo test-1 listening on %s (log-rate=0.001 memory=1Mi)", strings.TrimPrefix(td.url, "http://"))
	if len(lines) < 2 || lines[0] != want || lines[1] != "booted" {
		t.Errorf("stdout starts %q, want %q then \"booted\"", lines, want)
	}
}

func TestHealthz(t *testing.T) {
	td := startDemo(t, nil)
	if code, body, _ := td.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	td.control(t, "healthy=false")
	if code, _, _ := td.get(t, "/healthz"); code != http.StatusInternalServerError {
		t.Errorf("after healthy=false: %d, want 500", code)
	}
	td.control(t, "unhealthy=false")
	if code, _, _ := td.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("after unhealthy=false: %d, want 200", code)
	}

	sick := startDemo(t, []string{"--unhealthy"})
	if code, _, _ := sick.get(t, "/healthz"); code != http.StatusInternalServerError {
		t.Errorf("with --unhealthy: %d, want 500", code)
	}
}

func TestReady(t *testing.T) {
	td := startDemo(t, []string{"--ready-after", "5s"})
	checkReady := func(step string, want bool) {
		t.Helper()
		wantCode, wantMetric := http.StatusServiceUnavailable, 0.0
		if want {
			wantCode, wantMetric = http.StatusOK, 1
		}
		if code, _, _ := td.get(t, "/ready"); code != wantCode {
			t.Errorf("%s: GET /ready = %d, want %d", step, code, wantCode)
		}
		if got := td.metric(t, "opshub_demo_ready"); got != wantMetric {
			t.Errorf("%s: opshub_demo_ready = %v, want %v", step, got, wantMetric)
		}
	}

	checkReady("at start", false)
	td.clock.Advance(4 * time.Second)
	checkReady("after 4s", false)
	if _, st, _ := td.control(t, ""); st.Ready || st.ReadyAfter != "1s" {
		t.Errorf("status: ready %v in %q, want false in 1s", st.Ready, st.ReadyAfter)
	}
	td.clock.Advance(time.Second)
	checkReady("after 5s", true)

	td.control(t, "ready=false")
	checkReady("after ready=false", false)
	td.control(t, "ready=true")
	checkReady("after ready=true", true)

	td.control(t, "ready-after=2s")
	checkReady("after ready-after=2s", false)
	td.clock.Advance(2 * time.Second)
	checkReady("2s later", true)

	td.control(t, "ready-after=1h")
	td.control(t, "ready=true")
	checkReady("ready=true cancels ready-after", true)
}

func TestReadyGoesFalseOnShutdown(t *testing.T) {
	td := startDemo(t, nil)
	if err := td.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if set, _ := td.demo.knobs.get(); set.isReady(td.clock.Now()) {
		t.Error("still ready after shutdown")
	}
	if !strings.Contains(td.stderr.String(), "shutdown complete") {
		t.Errorf("stderr %q", td.stderr.String())
	}
}

// TestRunLeavesNoGoroutines runs every loop and a few requests, and checks
// that once Run has returned the goroutine count is back where it was.
func TestRunLeavesNoGoroutines(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	td := startDemo(t, []string{"--cpu", "0.02", "--log-rate", "100", "--stderr-rate", "50", "--volume-rate", "1Ki"},
		"OPSHUB_VOLUME_DATA="+t.TempDir())
	td.get(t, "/")
	td.control(t, "cpu=1.01&memory=1Mi")
	td.get(t, "/metrics")
	if err := td.stop(t); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	sinktest.WaitFor(t, 10*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestMetricsExposition(t *testing.T) {
	td := startDemo(t, []string{"--cpu", "0.01"})
	td.get(t, "/")
	td.control(t, "lines=3&stream=stderr&memory=2Mi")

	code, body, header := td.get(t, "/metrics")
	if code != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics = %d, Content-Type %q", code, header.Get("Content-Type"))
	}
	samples := checkExposition(t, body)
	want := map[string]float64{
		`opshub_demo_log_lines_total{stream="stderr"}`: 3,
		`opshub_demo_log_lines_total{stream="stdout"}`: 1, // the start-up line
		`opshub_demo_memory_held_bytes`:                2 << 20,
		`opshub_demo_cpu_burn_cores`:                   0.01,
		`opshub_demo_volume_written_bytes`:             0,
		`opshub_demo_ready`:                            1,
	}
	for series, v := range want {
		if got, ok := samples[series]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	if got := samples["opshub_demo_requests_total"]; got != 3 {
		t.Errorf("opshub_demo_requests_total = %v, want 3 (/, /control, /metrics)", got)
	}
}

var (
	metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (\S+)$`)
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$`)
)

// checkExposition checks the Prometheus text format as promtool would for
// what the demo writes: every sample is `name{labels} value`, every family
// has HELP and TYPE before its first sample and appears in one block,
// counters end in _total, and no series repeats. It returns the samples by
// series.
func checkExposition(t *testing.T, text string) map[string]float64 {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Error("exposition does not end with a newline")
	}
	typed := map[string]string{}
	helped := map[string]bool{}
	done := map[string]bool{} // families whose block has ended
	current := ""
	samples := map[string]float64{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		at := fmt.Sprintf("line %d %q", i+1, line)
		var family string
		switch {
		case strings.HasPrefix(line, "# HELP "):
			m := helpLine.FindStringSubmatch(line)
			if m == nil || helped[m[1]] {
				t.Errorf("%s: bad or repeated HELP", at)
				continue
			}
			family, helped[m[1]] = m[1], true
		case strings.HasPrefix(line, "# TYPE "):
			m := typeLine.FindStringSubmatch(line)
			if m == nil || typed[m[1]] != "" {
				t.Errorf("%s: bad or repeated TYPE", at)
				continue
			}
			family, typed[m[1]] = m[1], m[2]
			if m[2] == "counter" && !strings.HasSuffix(family, "_total") {
				t.Errorf("%s: counter without _total", at)
			}
		case strings.HasPrefix(line, "#"):
			continue
		default:
			m := metricLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s: not `name{labels} value`", at)
				continue
			}
			family = m[1]
			if typed[family] == "" || !helped[family] {
				t.Errorf("%s: sample before its HELP and TYPE", at)
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Errorf("%s: value: %v", at, err)
			}
			series := m[1] + m[2]
			if _, dup := samples[series]; dup {
				t.Errorf("%s: repeated series", at)
			}
			samples[series] = v
		}
		if family != current {
			if done[family] {
				t.Errorf("%s: family %s is split", at, family)
			}
			done[current], current = true, family
		}
	}
	return samples
}

// metric returns the value of one series from /metrics.
func (td *testDemo) metric(t *testing.T, series string) float64 {
	t.Helper()
	_, body, _ := td.get(t, "/metrics")
	v, ok := checkExposition(t, body)[series]
	if !ok {
		t.Fatalf("no %s in\n%s", series, body)
	}
	return v
}

func TestControlRejectsBadRequests(t *testing.T) {
	td := startDemo(t, nil)
	tests := []struct {
		query string
		field string
	}{
		{"bogus=1", "bogus"},
		{"log-rate=-1", "log-rate"},
		{"logRate=fast", "logRate"},
		{"cpu=2000", "cpu"},
		{"memory=lots", "memory"},
		{"log-size=1Gi", "log-size"},
		{"ready=maybe", "ready"},
		{"ready-after=-1s", "ready-after"},
		{"exit=300", "exit"},
		{"exit-code=x", "exit-code"},
		{"crash=SIGNOPE", "crash"},
		{"crash=", "crash"},
		{"stream=both&log=x", "stream"},
		{"size=10", "size"},
		{"lines=-1", "lines"},
		{"lines=100000000&size=1Mi", "lines"},
		{"volume-write=1Mi", "volume"},
		{"volume-rate=1Mi", "volume"},
		// Nothing is applied when any parameter is bad.
		{"log-rate=5&cpu=-1", "cpu"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, _, ae := td.control(t, tt.query)
			if code != http.StatusBadRequest || ae.Field != tt.field || ae.Error == "" {
				t.Errorf("code %d, error %+v; want 400 naming %q", code, ae, tt.field)
			}
		})
	}
	if _, st, _ := td.control(t, ""); st.LogRate != 0 || st.CPU != 0 {
		t.Errorf("a rejected request changed knobs: %+v", st)
	}
}

func TestControlSetsKnobs(t *testing.T) {
	dir := t.TempDir()
	td := startDemo(t, nil, "OPSHUB_VOLUME_DATA="+dir)
	// Names fold: log-rate, log_rate, logRate and lograte are one knob,
	// and POST forms work as GET queries do.
	code, st, ae := td.postControl(t, url.Values{
		"log_rate":       {"0.001"},
		"stderrRate":     {"0.002"},
		"log-size":       {"1Ki"},
		"cpu":            {"0.01"},
		"volume-rate":    {"1Ki/s"},
		"exit-code":      {"9"},
		"crash-signal":   {"abrt"},
		"shutdown-delay": {"1m"},
		"ignore-sigterm": {"true"},
		"exit-after":     {"1h"},
	})
	if code != http.StatusOK {
		t.Fatalf("POST /control: %d %+v", code, ae)
	}
	want := status{
		Instance: "test-1", Listen: strings.TrimPrefix(td.url, "http://"), Greeting: "hi", Healthy: true, Ready: true,
		LogRate: 0.001, StderrRate: 0.002, LogSize: 1024, CPU: 0.01, VolumeDir: dir, VolumeRate: 1024,
		ExitAfter: "1h0m0s", ExitCode: 9, CrashSignal: "SIGABRT", ShutdownDelay: "1m0s", IgnoreSIGTERM: true,
	}
	st.LogLines = nil
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("status\n got %+v\nwant %+v", st, want)
	}
	set, _ := td.demo.knobs.get()
	if set.crashSignal != syscall.SIGABRT || set.volumeRate != 1024 || !set.ignoreSIGTERM {
		t.Errorf("knobs %+v", set)
	}
	if _, st, _ := td.control(t, "exit-after=0&shutdown-delay=0s"); st.ExitAfter != "" || st.ShutdownDelay != "0s" {
		t.Errorf("exit-after=0 left %q, shutdown delay %q", st.ExitAfter, st.ShutdownDelay)
	}
}

func TestControlPrintsLines(t *testing.T) {
	td := startDemo(t, []string{"--log-size", "50"})
	if code, st, _ := td.control(t, "lines=5&size=100"); code != http.StatusOK || st.LogLines["stdout"] != 6 {
		t.Fatalf("lines=5: %d, stdout lines %d, want 6", code, st.LogLines["stdout"])
	}
	td.control(t, "lines=2")
	td.control(t, "log="+url.QueryEscape("a specific line")+"&stream=stderr")
	td.control(t, "lines=1&stream=stderr")

	lines := numbered(td.stdout.lines())
	checkSeq(t, lines, 1, 7)
	for i, l := range lines {
		want := 100
		if i >= 5 {
			want = 50 // the log-size knob
		}
		if len(l) != want {
			t.Errorf("line %q is %d bytes, want %d", l, len(l), want)
		}
		if !strings.Contains(l, "instance=test-1 stream=stdout") {
			t.Errorf("line %q", l)
		}
	}
	errLines := td.stderr.lines()
	if len(errLines) != 2 || errLines[0] != "a specific line" || !strings.HasPrefix(errLines[1], "seq=1 instance=test-1 stream=stderr") {
		t.Errorf("stderr %q", errLines)
	}
}

func TestControlMemory(t *testing.T) {
	td := startDemo(t, []string{"--memory", "1Mi"})
	if _, st, _ := td.control(t, ""); st.Memory != 1<<20 || st.MemoryHeld != 1<<20 {
		t.Errorf("at start: memory %d, held %d", st.Memory, st.MemoryHeld)
	}
	if _, st, _ := td.control(t, "memory=4Mi"); st.Memory != 4<<20 || st.MemoryHeld != 4<<20 {
		t.Errorf("after memory=4Mi: memory %d, held %d", st.Memory, st.MemoryHeld)
	}
	if got := td.metric(t, "opshub_demo_memory_held_bytes"); got != 4<<20 {
		t.Errorf("opshub_demo_memory_held_bytes = %v", got)
	}
	if _, st, _ := td.control(t, "memory=0"); st.MemoryHeld != 0 {
		t.Errorf("after memory=0: held %d", st.MemoryHeld)
	}
}

func TestVolumeWriteAtStartAndOnRequest(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	td := startDemo(t, []string{"--volume-write", "3Mi"}, "OPSHUB_VOLUME_LOGS="+second, "OPSHUB_VOLUME_DATA="+first)
	sinktest.WaitFor(t, 10*time.Second, "3Mi written at start", func() bool { return td.demo.volumeWritten() == 3<<20 })
	if code, st, ae := td.control(t, "volume-write=1.5Mi"); code != http.StatusOK || st.VolumeWritten != 9<<19 {
		t.Fatalf("volume-write=1.5Mi: %d %+v, written %d", code, ae, st.VolumeWritten)
	}
	if got := td.metric(t, "opshub_demo_volume_written_bytes"); got != 9<<19 {
		t.Errorf("opshub_demo_volume_written_bytes = %v", got)
	}
	if err := td.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, _, total := volumeFiles(t, first); total != 9<<19 {
		t.Errorf("%s holds %d bytes, want %d", first, total, 9<<19)
	}
	if names, _, _ := volumeFiles(t, second); len(names) != 0 {
		t.Errorf("wrote into the second volume: %v", names)
	}
	if matches, _ := filepath.Glob(filepath.Join(first, "opshub-demo-test-1-*.dat")); len(matches) != 1 {
		t.Errorf("files %v", matches)
	}
}

func TestControlExit(t *testing.T) {
	td := startDemo(t, nil)
	code, _, _ := td.control(t, "exit=7")
	if code != http.StatusOK {
		t.Fatalf("exit=7: %d", code)
	}
	var exit *exitError
	if err := td.wait(t); !errors.As(err, &exit) || exit.code != 7 {
		t.Fatalf("Run returned %v, want exit code 7", err)
	}
	if !strings.Contains(td.stderr.String(), "exiting with code 7\n") {
		t.Errorf("stderr %q", td.stderr.String())
	}
}

func TestControlCrash(t *testing.T) {
	td := startDemo(t, nil)
	if code, _, _ := td.control(t, "crash=SIGKILL"); code != http.StatusOK {
		t.Fatalf("crash=SIGKILL: %d", code)
	}
	var crashed *crashError
	if err := td.wait(t); !errors.As(err, &crashed) || crashed.signal != syscall.SIGKILL {
		t.Fatalf("Run returned %v, want a crash with SIGKILL", err)
	}
	if !strings.Contains(td.stderr.String(), "crashing with signal SIGKILL") {
		t.Errorf("stderr %q", td.stderr.String())
	}
}

func TestControlExitAfter(t *testing.T) {
	td := startDemo(t, nil)
	// The clock only anchors the schedule; the wait itself is real, so keep
	// it short.
	td.control(t, "exit-after=1h&exit-code=4")
	td.control(t, "exit-after=10ms")
	var exit *exitError
	if err := td.wait(t); !errors.As(err, &exit) || exit.code != 4 {
		t.Fatalf("Run returned %v, want exit code 4", err)
	}
}

func TestAccessLog(t *testing.T) {
	td := startDemo(t, []string{"--access-log"})
	td.get(t, "/")
	td.get(t, "/nope?x=1")
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, l := range td.stdout.lines() {
			if strings.HasPrefix(l, "GET ") {
				got = append(got, l)
			}
		}
		if len(got) == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	re := regexp.MustCompile(`^GET (/|/nope\?x=1) (200|404) [0-9.]+(µs|ms|s)$`)
	if len(got) != 2 || !re.MatchString(got[0]) || !re.MatchString(got[1]) || !strings.Contains(got[1], " 404 ") {
		t.Errorf("access log %q, want a line for GET / 200 and GET /nope?x=1 404", got)
	}
}
