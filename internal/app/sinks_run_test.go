package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// demoSeqs returns the demo's sequence numbers of the logger's records rv
// accepted, per instance and stream, in arrival order.
func demoSeqs(rv *sinktest.LogReceiver) map[string][]int {
	seqs := map[string][]int{}
	for _, rec := range rv.Records() {
		seq, ok := demoSeq(rec.Log)
		if !ok || rec.Service != "logger" {
			continue
		}
		key := rec.Instance + "/" + rec.Stream
		seqs[key] = append(seqs[key], seq)
	}
	return seqs
}

// demoSeq reads "seq=N" from one of opshub-demo's numbered lines.
func demoSeq(line string) (int, bool) {
	rest, ok := strings.CutPrefix(line, "seq=")
	if !ok {
		return 0, false
	}
	n, _, _ := strings.Cut(rest, " ")
	seq, err := strconv.Atoi(n)
	return seq, err == nil
}

// TestRunForwardsLogsToSinks runs opshub with a numbered-line logger, a
// file sink and an HTTP sink that is down at first: the file fills, the
// HTTP sink reports failing, and once its endpoint is back every line
// arrives in order, each once; a sink can be paused through the API.
func TestRunForwardsLogsToSinks(t *testing.T) {
	demo := demoBinary(t)
	dir := t.TempDir()
	rv := sinktest.StartLogReceiver(t)
	rv.SetDown(true)
	archive := filepath.Join(dir, "archive.ndjson")
	cfgText := fmt.Sprintf(`
dataDir: %s
platform: {kind: local}
workloads:
  - name: logger
    project: demo
    command: [%s, --no-http, --log-rate, "40"]
sinks:
  - name: archive
    type: file
    path: %s
    batch: {timeout: 50ms}
  - name: hook
    type: http
    url: %s
    encoding: json
    filter: {services: [logger]}
    batch: {maxEvents: 100, timeout: 50ms}
`, filepath.Join(dir, "data"), demo, archive, rv.URL)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{}).API

	sinkState := func(name string) model.SinkStatus {
		var body struct{ Sinks []model.SinkStatus }
		if code, err := getJSON(api+"/api/v1/sinks", &body); code != 200 || err != nil {
			return model.SinkStatus{}
		}
		for _, s := range body.Sinks {
			if s.Name == name {
				return s
			}
		}
		return model.SinkStatus{}
	}

	sinktest.WaitFor(t, 60*time.Second, "the logger's lines in the file sink", func() bool {
		data, _ := os.ReadFile(archive)
		return strings.Contains(string(data), `"project":"demo","service":"logger"`) && strings.Contains(string(data), "seq=20 ")
	})
	if v := sinkState("archive").Validation; v == nil || !v.OK {
		t.Errorf("the file sink's validation line: %+v", v)
	}
	sinktest.WaitFor(t, 30*time.Second, "the HTTP sink to report failing", func() bool {
		s := sinkState("hook")
		return s.State == model.SinkFailing && s.BufferEvents > 0
	})

	resp, err := http.Post(api+"/api/v1/sinks/archive/pause", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"state": "paused"`) {
		t.Fatalf("pause answered %d %s", resp.StatusCode, body)
	}

	rv.SetDown(false)
	sinktest.WaitFor(t, 60*time.Second, "the HTTP sink to deliver its backlog", func() bool {
		s := sinkState("hook")
		n := 0
		for _, seqs := range demoSeqs(rv) {
			n += len(seqs)
		}
		return s.State == model.SinkRunning && n > 100
	})

	for key, seqs := range demoSeqs(rv) {
		for i, seq := range seqs {
			if seq != i+1 {
				t.Fatalf("%s: line %d has seq=%d, want %d: lost, reordered or repeated (%v…)", key, i, seq, i+1, seqs[:min(len(seqs), 10)])
			}
		}
	}
}
