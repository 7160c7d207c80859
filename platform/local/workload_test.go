package local

import (
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	ok := Workload{Project: "demo", Name: "web", Command: []string{"/bin/true"}, Replicas: 1}
	with := func(f func(w *Workload)) Workload {
		w := ok.clone()
		f(&w)
		return w
	}
	tests := []struct {
		name      string
		opts      Options
		workloads []Workload
		wantErr   []string // substrings of the error; none: no error
	}{
		{"valid", Options{DataDir: "d"}, []Workload{ok}, nil},
		{"no data dir", Options{}, []Workload{ok}, []string{"data dir is required"}},
		{"duplicate", Options{DataDir: "d"}, []Workload{ok, ok}, []string{"demo/web: declared twice"}},
		{"same name in another project", Options{DataDir: "d"}, []Workload{ok, with(func(w *Workload) { w.Project = "other" })}, nil},
		{
			"duplicate port", Options{DataDir: "d"},
			[]Workload{with(func(w *Workload) { w.Port = 8080 }), with(func(w *Workload) { w.Name = "api"; w.Port = 8080 })},
			[]string{"demo/api: port 8080 is already the port of demo/web"},
		},
		{
			"every problem at once", Options{DataDir: "d"},
			[]Workload{with(func(w *Workload) {
				w.Name = "Web_1"
				w.Command = nil
				w.Replicas = -1
				w.RestartPolicy = "Sometimes"
				w.Env = map[string]string{"1X": "y"}
				w.Volumes = []Volume{{Name: "data", Path: ""}}
			})},
			[]string{`name "Web_1"`, "command: must not be empty", "replicas: -1", `restart policy "Sometimes"`, `env "1X"`, `volume "data": path`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts, tc.workloads)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error with %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestNewFillsDefaultsAndCopies(t *testing.T) {
	w := Workload{Project: "demo", Name: "web", Command: []string{"/bin/true"}, Env: map[string]string{"A": "1"}}
	r, err := New(Options{DataDir: "d"}, []Workload{w})
	if err != nil {
		t.Fatal(err)
	}
	w.Command[0] = "/bin/false"
	w.Env["A"] = "2"
	got := r.services[0].w
	if got.RestartPolicy != RestartAlways || got.GracePeriod != 30*time.Second {
		t.Errorf("defaults: policy %q grace %s, want Always 30s", got.RestartPolicy, got.GracePeriod)
	}
	if got.Command[0] != "/bin/true" || got.Env["A"] != "1" {
		t.Errorf("runtime shares the caller's slices or maps: %v %v", got.Command, got.Env)
	}
	if r.opts.ProxyHost != "127.0.0.1" {
		t.Errorf("proxy host %q, want 127.0.0.1", r.opts.ProxyHost)
	}
	if !strings.HasSuffix(r.LogRoot(), "/d/pods") || !strings.HasPrefix(r.LogRoot(), "/") {
		t.Errorf("LogRoot %q, want an absolute .../d/pods", r.LogRoot())
	}
}

func TestTemplateHash(t *testing.T) {
	base := Workload{Command: []string{"srv", "--port", "${PORT}"}, Env: map[string]string{"A": "1", "B": "2"}}
	h := base.templateHash()
	if len(h) != 4 {
		t.Fatalf("hash %q, want 4 hex digits", h)
	}
	same := Workload{Command: []string{"srv", "--port", "${PORT}"}, Env: map[string]string{"B": "2", "A": "1"}, Replicas: 7}
	if same.templateHash() != h {
		t.Errorf("hash changes with map order or replicas")
	}
	for name, w := range map[string]Workload{
		"command":        {Command: []string{"srv", "--port", "${PORT}", "-v"}, Env: base.Env},
		"env value":      {Command: base.Command, Env: map[string]string{"A": "1", "B": "3"}},
		"argument split": {Command: []string{"srv --port", "${PORT}"}, Env: base.Env},
	} {
		if w.templateHash() == h {
			t.Errorf("changing the %s keeps the hash %s", name, h)
		}
	}
}
