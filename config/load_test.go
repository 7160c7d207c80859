package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/sinks/file"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Secrets the test environment provides; no output may ever contain them.
var testSecrets = map[string]string{
	"ci.token":        "ci-token-4f1d9a",
	"admin.token":     "admin-token-77c2e1",
	"loki.pass":       "loki-password-90ab",
	"hook.secret":     "hook-file-secret-1e2f",
	"dd.key":          "datadog-key-3c4d",
	"s3.secret":       "s3-secret-key-8a8a",
	"SLACK_TOKEN":     "xoxb-slack-token-5e6f",
	"DISCORD_WEBHOOK": "https://discord.example.com/api/webhooks/1/discord-token-7a8b",
	"HOOK_SECRET":     "hook-env-secret-9c0d",
	"PD_KEY":          "pagerduty-key-1a2b",
	"BEARER_TOKEN":    "bearer-token-3b4c",
	"API_TOKEN":       "api-token-5d6e",
	"DATABASE_URL":    "postgres://app:db-url-secret-8f9a@db/app",
	"db.env":          "DB_PASSWORD=db-env-file-secret-4b5c\nDB_USER=app",
	"db.pass":         "db-file-secret-6d7e",
	"registry.pass":   "registry-password-0c1d",
	"bad.env":         "# a comment\n\nexport GOOD=1\nNO_EQUALS\n9X=bad-env-secret-2a3b\nGOOD=again\nOPSHUB_X=1",
}

// Plain variables the test environment sets.
var testVars = map[string]string{
	"NODE_NAME": "node-1",
	"WEB_PORT":  "8081",
	"REGION":    "eu-west-1",
	"EMPTY":     "",
}

// inTestDir makes a fresh working directory holding the secret files, sets
// the environment, and returns the directory.
func inTestDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, value := range testSecrets {
		if strings.Contains(name, ".") {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Setenv(name, value)
		}
	}
	for name, value := range testVars {
		t.Setenv(name, value)
	}
	t.Chdir(dir)
	return dir
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./config -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// testFiles lists testdata/<dir>/*.yaml by case name.
func testFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test files in testdata/%s: %v", dir, err)
	}
	files := map[string]string{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(filepath.Base(p), ".yaml")] = abs
	}
	return files
}

// assertNoSecrets fails if any test secret appears in out.
func assertNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for name, secret := range testSecrets {
		if strings.Contains(out, secret) {
			t.Errorf("%s contains the secret %s", what, name)
		}
		// An env file's secret lines: KEY=VALUE with a secret VALUE.
		for _, line := range strings.Split(secret, "\n") {
			if _, v, ok := strings.Cut(line, "="); ok && strings.Contains(v, "secret") && strings.Contains(out, v) {
				t.Errorf("%s contains the secret of %s in %s", what, line[:strings.Index(line, "=")], name)
			}
		}
	}
}

// TestValidFiles loads every valid file and compares its effective config
// (Redacted) with the golden file next to it, the working directory written
// as /CWD.
func TestValidFiles(t *testing.T) {
	for name, path := range testFiles(t, "valid") {
		t.Run(name, func(t *testing.T) {
			dir := inTestDir(t)
			cfg, err := Load(path, testPlugins)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			out, err := cfg.Redacted()
			if err != nil {
				t.Fatalf("Redacted: %v", err)
			}
			assertNoSecrets(t, "Redacted", string(out))
			golden(t, strings.TrimSuffix(path, ".yaml")+".golden", bytes.ReplaceAll(out, []byte(dir), []byte("/CWD")))

			// The effective config is itself a valid config that means the
			// same. A redacted secret is put back as some valid value (a
			// URL, since some secrets are URLs); it prints as <secret> again.
			again, err := Parse(bytes.ReplaceAll(out, []byte("<secret>"), []byte("https://secret.example/x")), name+" (redacted)", testPlugins)
			if err != nil {
				t.Fatalf("Redacted output does not parse: %v", err)
			}
			out2, err := again.Redacted()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, out2) {
				t.Errorf("Redacted is not stable under a second Parse:\n--- first\n%s\n--- second\n%s", out, out2)
			}
		})
	}
}

// TestInvalidFiles checks the exact error output for every invalid file.
func TestInvalidFiles(t *testing.T) {
	for name, path := range testFiles(t, "invalid") {
		t.Run(name, func(t *testing.T) {
			inTestDir(t)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(data, "testdata/invalid/"+name+".yaml", testPlugins)
			if err == nil {
				t.Fatal("Parse accepted an invalid file")
			}
			if cfg != nil {
				t.Error("Parse returned a config along with errors")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			for _, e := range errs {
				if e.Line <= 0 {
					t.Errorf("error without a line: %v", e)
				}
			}
			assertNoSecrets(t, "the error output", err.Error())
			golden(t, strings.TrimSuffix(path, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

func TestThreeMistakesGiveThreeErrors(t *testing.T) {
	path := testFiles(t, "invalid")["three-mistakes"]
	inTestDir(t)
	_, err := Load(path, testPlugins)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want Errors", err)
	}
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	if want := []int{7, 11, 12}; !reflect.DeepEqual(lines, want) {
		t.Errorf("error lines = %v, want %v\n%v", lines, want, err)
	}
}

func TestEmptyFileIsAllDefaults(t *testing.T) {
	dir := inTestDir(t)
	for _, data := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "---\n---\n"} {
		cfg, err := Parse([]byte(data), "empty.yaml", testPlugins)
		if err != nil {
			t.Fatalf("Parse(%q): %v", data, err)
		}
		want := Default()
		want.DataDir = filepath.Join(dir, ".opshub")
		got := *cfg
		got.source, got.plugins = nil, nil
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("Parse(%q) = %+v, want the defaults %+v", data, &got, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := inTestDir(t)
	_, err := Load(filepath.Join(dir, "nope.yaml"), testPlugins)
	want := filepath.Join(dir, "nope.yaml") + ": cannot read config file: it does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %q", err, want)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"everything", Error{File: "examples/bad.yaml", Line: 12, Path: "workloads[0].replicas", Msg: "must be 0 or more"},
			"examples/bad.yaml:12: workloads[0].replicas: must be 0 or more"},
		{"no file", Error{Line: 7, Path: "workloads[0].replicaz", Msg: "unknown key"}, "line 7: workloads[0].replicaz: unknown key"},
		{"no line", Error{File: "a.yaml", Msg: "cannot read config file"}, "a.yaml: cannot read config file"},
		{"no path", Error{File: "a.yaml", Line: 3, Msg: "not valid YAML"}, "a.yaml:3: not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	errs := Errors{{Line: 9, Msg: "b"}, {Line: 2, Msg: "a"}}
	if got, want := errs.Error(), "line 2: a\nline 9: b"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(error(errs), &e) || e.Msg != "b" {
		t.Errorf("errors.As did not find the first *Error")
	}
}

func TestWorkloadDefaults(t *testing.T) {
	dir := inTestDir(t)
	cfg, err := Parse([]byte("workloads:\n  - name: web\n    command: [bin/web]\n    volumes: [{name: data, capacity: 1Gi}]\n    probes: {liveness: {tcp: }}\n"), "w.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Workloads[0]
	if w.ReplicaCount() != 1 || w.Project != "default" || w.RestartPolicy != "Always" || w.GracePeriod.D().Seconds() != 30 {
		t.Errorf("workload defaults not applied: %+v", w)
	}
	if got, want := w.Command[0], filepath.Join(dir, "bin/web"); got != want {
		t.Errorf("command[0] = %q, want %q", got, want)
	}
	if got, want := w.Volumes[0].Path, filepath.Join(dir, ".opshub/volumes/default/web/data"); got != want {
		t.Errorf("volume path = %q, want %q", got, want)
	}
	p := w.Probes.Liveness
	if p == nil || p.TCP == nil {
		t.Fatalf("liveness with an empty tcp handler was not decoded: %+v", p)
	}
	if p.PeriodSeconds != 10 || p.TimeoutSeconds != 1 || p.SuccessThreshold != 1 || p.FailureThreshold != 3 || p.InitialDelaySeconds != 0 {
		t.Errorf("probe defaults are not the kubelet's: %+v", *p)
	}
	if (Workload{}).ReplicaCount() != 1 {
		t.Error("ReplicaCount of an unset Replicas is not 1")
	}
	zero := 0
	if (Workload{Replicas: &zero}).ReplicaCount() != 0 {
		t.Error("ReplicaCount does not honour an explicit 0")
	}
}

func TestErrorfUsesLines(t *testing.T) {
	inTestDir(t)
	cfg, err := Parse([]byte("sinks:\n  - name: out\n    type: stdout\n\n  - name: f\n    type: file\n    path: out.log\n"), "s.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Errorf("sinks[1].path", "cannot open: %s", "denied").Error(), "s.yaml:7: sinks[1].path: cannot open: denied"; got != want {
		t.Errorf("Errorf = %q, want %q", got, want)
	}
	if got, want := cfg.Errorf("sinks[1].nope", "x").Line, 5; got != want {
		t.Errorf("Errorf of a missing key: line %d, want the line of its mapping %d", got, want)
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() is not valid: %v", err)
	}
	c.Workloads = []Workload{{Name: "Web", Project: "default", Command: []string{"x"}, RestartPolicy: "Always"}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "workloads[0].name: must be a DNS label") {
		t.Errorf("Validate = %v, want a DNS label error", err)
	}
}

// Relative paths follow the working directory of opshub, not the directory
// of the config file, as `command: [./bin/app]` would in a shell.
func TestRelativePathsFollowTheWorkingDirectory(t *testing.T) {
	dir := inTestDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "dataDir: ./state\nserver:\n  tokens: [{name: ci, tokenFile: ./ci.token, scopes: [read]}]\n" +
		"workloads:\n  - {name: web, command: [./bin/web, ./not-a-program-arg], workingDir: work, volumes: [{name: d, path: vol, capacity: 1Gi}]}\n" +
		"  - {name: py, command: [python3, app.py]}\n"
	if err := os.WriteFile(filepath.Join(dir, "conf", "opshub.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("conf/opshub.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Workloads[0]
	for what, got := range map[string][2]string{
		"dataDir":     {cfg.DataDir, filepath.Join(dir, "state")},
		"tokenFile":   {cfg.Server.Tokens[0].TokenFile, filepath.Join(dir, "ci.token")},
		"command[0]":  {w.Command[0], filepath.Join(dir, "bin/web")},
		"command[1]":  {w.Command[1], "./not-a-program-arg"},
		"workingDir":  {w.WorkingDir, filepath.Join(dir, "work")},
		"volume path": {w.Volumes[0].Path, filepath.Join(dir, "vol")},
		"bare name":   {cfg.Workloads[1].Command[0], "python3"},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", what, got[0], got[1])
		}
	}
	if cfg.Server.Tokens[0].Token.Value() != testSecrets["ci.token"] {
		t.Error("tokenFile was not read from the working directory")
	}
}

// A destination package receives its settings decoded into its own type:
// defaults filled, paths absolute, units read.
func TestPluginSettingsAreDecoded(t *testing.T) {
	dir := inTestDir(t)
	cfg, err := Parse([]byte("sinks:\n  - name: disk\n    type: file\n    path: logs/out.log\n  - {name: small, type: file, path: /var/log/x, maxBytes: 1Mi, maxFiles: 2}\n"), "d.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []file.Settings{
		{Path: filepath.Join(dir, "logs/out.log"), MaxBytes: 100 << 20, MaxFiles: 5},
		{Path: "/var/log/x", MaxBytes: 1 << 20, MaxFiles: 2},
	} {
		got, ok := cfg.Sinks[i].Settings.(*file.Settings)
		if !ok || *got != want {
			t.Errorf("sinks[%d] settings = %#v, want %+v", i, cfg.Sinks[i].Settings, want)
		}
	}
}

func TestMatchEvent(t *testing.T) {
	tests := []struct {
		filters []string
		event   string
		want    bool
	}{
		{nil, "container.crash", true},
		{[]string{"container.*"}, "container.crash", true},
		{[]string{"container.*"}, "volume.usage", false},
		{[]string{"container.crash"}, "container.crashloop", false},
		{[]string{"deploy.*", "volume.usage"}, "volume.usage", true},
	}
	for _, tt := range tests {
		if got := MatchEvent(tt.filters, tt.event); got != tt.want {
			t.Errorf("MatchEvent(%v, %s) = %v, want %v", tt.filters, tt.event, got, tt.want)
		}
	}
	a := Default().Alerts
	a.Throttle["container.crash"] = Duration(30 * time.Minute)
	if a.ThrottleFor("container.crash") != 30*time.Minute || a.ThrottleFor("volume.usage") != 15*time.Minute {
		t.Error("ThrottleFor does not fall back to the default window")
	}
}
