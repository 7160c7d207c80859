package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// fileSinkLines reads a file sink's NDJSON: the validation lines, and the
// demo's sequence numbers per instance and stream, in file order.
func fileSinkLines(t *testing.T, path string) (validations int, seqs map[string][]int) {
	t.Helper()
	seqs = map[string][]int{}
	f, err := os.Open(path)
	if err != nil {
		return 0, seqs
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec model.LogRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			continue // a line being written
		}
		if rec.Labels[sinks.ValidationLabel] != "" {
			validations++
			continue
		}
		if seq, ok := demoSeq(rec.Log); ok && rec.Service == "logger" {
			key := rec.Instance + "/" + rec.Stream
			seqs[key] = append(seqs[key], seq)
		}
	}
	return validations, seqs
}

func countSeqs(seqs map[string][]int) int {
	n := 0
	for _, s := range seqs {
		n += len(s)
	}
	return n
}

// consecutive fails unless each instance's numbers run on by one: nothing
// lost, repeated or reordered.
func consecutive(t *testing.T, sink string, seqs map[string][]int) {
	t.Helper()
	for key, s := range seqs {
		for i := 1; i < len(s); i++ {
			if s[i] != s[i-1]+1 {
				t.Fatalf("sink %s, %s: seq=%d follows seq=%d: a line was lost, repeated or reordered", sink, key, s[i], s[i-1])
			}
		}
	}
}

func postReload(t *testing.T, api string) (int, string, model.ConfigReload) {
	t.Helper()
	resp, err := http.Post(api+"/api/v1/config/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body struct {
		Error  string
		Reload model.ConfigReload
	}
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("reload answered %d %s: %v", resp.StatusCode, data, err)
	}
	return resp.StatusCode, body.Error, body.Reload
}

// TestReloadAppliesSinksLive runs opshub with a numbered-line logger and
// rewrites its config file three times: a valid file that adds a file sink,
// removes one and keeps one (through the API), a file with mistakes
// (refused with every error and its line, nothing changes), and a valid
// file again (through the reload channel, as SIGHUP does).
func TestReloadAppliesSinksLive(t *testing.T) {
	demo := demoBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "opshub.yaml")
	keep, old, added, third := filepath.Join(dir, "keep.ndjson"), filepath.Join(dir, "old.ndjson"), filepath.Join(dir, "new.ndjson"), filepath.Join(dir, "third.ndjson")
	head := fmt.Sprintf(`dataDir: %s
platform: {kind: local}
workloads:
  - name: logger
    project: demo
    command: [%s, --no-http, --log-rate, "50"]
%%s
sinks:
  - {name: keep, type: file, path: %s, batch: {timeout: 20ms}}
`, filepath.Join(dir, "data"), demo, keep)
	write := func(env, sinks string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(fmt.Sprintf(head, env)+sinks), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("", fmt.Sprintf("  - {name: old, type: file, path: %s, batch: {timeout: 20ms}}\n", old))
	cfg, err := app.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	reloads := make(chan struct{})
	api := startRun(t, cfg, app.Options{ConfigPath: path, Reload: reloads}).API

	sinkList := func() []model.SinkStatus {
		var body struct{ Sinks []model.SinkStatus }
		if code, err := getJSON(api+"/api/v1/sinks", &body); code != 200 || err != nil {
			t.Fatalf("GET /api/v1/sinks: %d %v", code, err)
		}
		return body.Sinks
	}
	sinkNamed := func(name string) (model.SinkStatus, bool) {
		for _, s := range sinkList() {
			if s.Name == name {
				return s, true
			}
		}
		return model.SinkStatus{}, false
	}
	sinktest.WaitFor(t, 60*time.Second, "lines in both file sinks", func() bool {
		_, k := fileSinkLines(t, keep)
		_, o := fileSinkLines(t, old)
		return countSeqs(k) > 20 && countSeqs(o) > 20
	})
	keepBefore, _ := sinkNamed("keep")

	// 1. A valid file: add "new", remove "old", keep "keep"; a changed
	// workload env is rolled out as a release.
	write("    env: {GREETING: hi}", fmt.Sprintf("  - {name: new, type: file, path: %s, batch: {timeout: 20ms}}\n", added))
	code, msg, res := postReload(t, api)
	if code != 200 || !res.Applied {
		t.Fatalf("reload answered %d %q %+v", code, msg, res)
	}
	if s := res.Sinks; s == nil || !slices.Equal(s.Added, []string{"new"}) || !slices.Equal(s.Removed, []string{"old"}) ||
		len(s.Changed) != 0 || !slices.Equal(s.Unchanged, []string{"keep"}) {
		t.Fatalf("sink changes %+v", res.Sinks)
	}
	if v, ok := res.Sinks.Validation["new"]; !ok || !v.OK {
		t.Errorf("the new sink's validation line is not reported delivered: %+v", res.Sinks.Validation)
	}
	// The logger's env changed: that is rolled out as a release, not left
	// for a restart.
	if len(res.RestartRequired) != 0 || !slices.Equal(res.Releases, []string{"demo/logger revision 2"}) {
		t.Errorf("restartRequired = %v, releases = %v; want none and [demo/logger revision 2]", res.RestartRequired, res.Releases)
	}
	sinktest.WaitFor(t, 30*time.Second, "the new sink's validation line and the logger's lines after it", func() bool {
		v, s := fileSinkLines(t, added)
		return v == 1 && countSeqs(s) > 20
	})
	sinktest.WaitFor(t, 30*time.Second, "the removed sink to stop", func() bool { _, listed := sinkNamed("old"); return !listed })
	oldSize := fileSize(t, old)
	_, n := fileSinkLines(t, added)
	sinktest.WaitFor(t, 30*time.Second, "more lines in the new sink", func() bool {
		_, s := fileSinkLines(t, added)
		return countSeqs(s) > countSeqs(n)+40
	})
	if got := fileSize(t, old); got != oldSize {
		t.Errorf("the removed sink's file grew from %d to %d bytes", oldSize, got)
	}
	if st, _ := sinkNamed("keep"); !st.Validation.Time.Equal(keepBefore.Validation.Time) {
		t.Errorf("the unchanged sink was restarted: validation at %s, before %s", st.Validation.Time, keepBefore.Validation.Time)
	}

	// 2. A file with two mistakes is refused with both, and nothing changes.
	before := sinkList()
	if err := os.WriteFile(path, []byte(fmt.Sprintf(head, "")+
		"  - {name: broken, type: file, path: "+third+", bogus: 1}\n"+
		"  - {name: worse, type: lokki, url: http://127.0.0.1:1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, msg, res = postReload(t, api)
	if code != http.StatusUnprocessableEntity || res.Applied || !strings.Contains(msg, "2 errors; the running config is kept") {
		t.Fatalf("an invalid file: %d %q %+v", code, msg, res)
	}
	if len(res.Errors) != 2 || res.Errors[0].Line != 10 || res.Errors[1].Line != 11 || res.Errors[0].File != path ||
		res.Errors[0].Path != "sinks[1].bogus" || !strings.Contains(res.Errors[1].Message, "lokki") {
		t.Fatalf("errors %+v, want bogus at line 10 and lokki at line 11", res.Errors)
	}
	after := sinkList()
	if len(after) != len(before) {
		t.Fatalf("sinks after a refused reload: %+v", after)
	}
	for i := range before {
		if after[i].Name != before[i].Name || !after[i].Validation.Time.Equal(before[i].Validation.Time) {
			t.Fatalf("a refused reload changed sink %s: %+v, before %+v", after[i].Name, after[i], before[i])
		}
	}

	// 3. SIGHUP's way: the reload channel, with a valid file again that
	// adds a sink and changes "keep", which restarts with a validation line
	// and loses and repeats nothing.
	write("    env: {GREETING: hi}", fmt.Sprintf("  - {name: new, type: file, path: %s, batch: {timeout: 20ms}}\n  - {name: third, type: file, path: %s, batch: {timeout: 20ms}}\n", added, third))
	text, _ := os.ReadFile(path)
	text = bytes.Replace(text, []byte("path: "+keep+", batch: {timeout: 20ms}"), []byte("path: "+keep+", batch: {timeout: 30ms}"), 1)
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	reloads <- struct{}{}
	sinktest.WaitFor(t, 30*time.Second, "the third sink's lines", func() bool {
		v, s := fileSinkLines(t, third)
		return v == 1 && countSeqs(s) > 0
	})
	_, k := fileSinkLines(t, keep)
	sinktest.WaitFor(t, 30*time.Second, "the changed sink's second validation line and more lines after it", func() bool {
		v, s := fileSinkLines(t, keep)
		return v == 2 && countSeqs(s) > countSeqs(k)+40
	})

	_, k = fileSinkLines(t, keep)
	consecutive(t, "keep", k)
	for key, s := range k {
		if s[0] != 1 {
			t.Errorf("sink keep, %s: starts at seq=%d, want 1", key, s[0])
		}
	}
	_, a := fileSinkLines(t, added)
	consecutive(t, "new", a)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(bytes.TrimSpace(data)))
}
