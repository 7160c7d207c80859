package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckConfigReportsEveryMistakeWithItsLine(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check-config", "-c", "testdata/three-mistakes.yaml")
	if code != exitFailure {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("nothing should go to stdout on error, got %q", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 3 errors and a count line, got:\n%s", stderr)
	}
	for i, line := range []string{":8:", ":10:", ":13:"} {
		if !strings.Contains(lines[i], "three-mistakes.yaml"+line) {
			t.Errorf("error %d should be on line %s: %q", i+1, line, lines[i])
		}
	}
	if !strings.HasSuffix(lines[3], "3 errors") {
		t.Errorf("last line should count the errors: %q", lines[3])
	}
	golden(t, "three-mistakes.golden", []byte(stderr))
}

// A plugin's own rules (a reserved Loki label, TLS settings on plain TCP,
// an unknown TLS version) are checked by check-config as at start-up, each
// reported with its line, all at once.
func TestCheckConfigRunsEachPluginsValidation(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check-config", "-c", "testdata/plugin-mistakes.yaml")
	if code != exitFailure || stdout != "" {
		t.Fatalf("exit code %d, stdout %q; want 1 and nothing; stderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`plugin-mistakes.yaml:8: sinks[0].labels.project: is set by opshub itself`,
		`plugin-mistakes.yaml:13: sinks[1].tls: is set, but network is tcp`,
		`plugin-mistakes.yaml:20: notifications.integrations[0].tls.minVersion: must be one of TLS10, TLS11, TLS12, TLS13, got "TLS9"`,
		`plugin-mistakes.yaml: 3 errors`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestCheckConfigAcceptsTheExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "check-config", "-c", f)
			if code != exitOK || !strings.Contains(stdout, "OK") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
		})
	}
}

func TestCheckConfigPrintRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "ci.token")
	if err := os.WriteFile(tokenFile, []byte("tok-very-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "opshub.yaml")
	t.Setenv("HOOK_SECRET", "hook-very-secret")
	body := "server:\n  tokens:\n    - {name: ci, tokenFile: " + tokenFile + ", scopes: [read]}\n" +
		"notifications:\n  integrations:\n    - {name: pager, type: webhook, url: \"https://example.com/hook\", secret: \"${HOOK_SECRET}\"}\n" +
		"    - {name: billing, type: email, to: [billing@example.com], from: opshub@example.com, smarthost: \"smtp.example.com:587\", auth: {username: opshub, passwordFile: " + tokenFile + "}}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "check-config", "-c", cfg, "--print")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "very-secret") {
		t.Fatalf("a secret leaked into --print output:\n%s", stdout)
	}
	if !strings.Contains(stdout, "<secret>") || !strings.Contains(stdout, "password: <secret>") {
		t.Fatalf("expected <secret> placeholders, the email password among them:\n%s", stdout)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"unknown flag", []string{"status", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"too many args", []string{"status", "a", "b"}, exitUsage, "accepts at most 1 arg"},
		{"unknown command", []string{"frobnicate"}, exitFailure, `unknown command "frobnicate"`},
		{"bad output format", []string{"version", "-o", "xml"}, exitUsage, `unknown output format "xml"`},
		{"missing config file", []string{"check-config", "-c", "testdata/nope.yaml"}, exitFailure, "nope.yaml"},
		{"server unreachable", []string{"status", "--server", "127.0.0.1:1"}, exitFailure, "cannot reach opshub"},
		{"bad server address", []string{"status", "--server", "ftp://127.0.0.1:1"}, exitUsage, "scheme must be http or https"},
		{"bad server address of a flow command", []string{"flow", "runs", "--server", "ftp://127.0.0.1:1"}, exitUsage, "scheme must be http or https"},
		{"version", []string{"version"}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.err) {
				t.Fatalf("exit %d, stderr %q; want %d containing %q", code, stderr, tt.code, tt.err)
			}
		})
	}
}

func TestResumeContinuousTakesNoOtherChange(t *testing.T) {
	code, _, stderr := runCLI(t, "deploy", "web", "--resume-continuous", "--env", "A=1")
	if code != exitUsage || !strings.Contains(stderr, "leave out --env") {
		t.Fatalf("exit %d, want %d naming --env; stderr:\n%s", code, exitUsage, stderr)
	}
}
