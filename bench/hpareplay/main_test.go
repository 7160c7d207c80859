package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden timelines")

// TestGoldenTimelines replays every trace in testdata and compares the
// timeline with the golden file next to it. The derivation of each golden
// case, from the upstream HPA rules, is written at the top of its trace.
func TestGoldenTimelines(t *testing.T) {
	traces, err := filepath.Glob("testdata/*.trace")
	if err != nil || len(traces) < 6 {
		t.Fatalf("want at least 6 traces, found %d (%v)", len(traces), err)
	}
	for _, tr := range traces {
		t.Run(strings.TrimSuffix(filepath.Base(tr), ".trace"), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run([]string{tr}, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			golden := strings.TrimSuffix(tr, ".trace") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("timeline differs from %s:\n--- got\n%s--- want\n%s", golden, out.Bytes(), want)
			}
		})
	}
}

func TestBadTracesNameTheLine(t *testing.T) {
	tests := []struct{ name, trace, want string }{
		{"unknown keyword", "policy min=1 max=2 cpu=50\nfrobnicate 3\n0s 1", ":2: want a keyword or a time"},
		{"bad demand", "policy min=1 max=2 cpu=50\n0s lots", `:2: demand "lots" is not a number`},
		{"time going back", "policy min=1 max=2 cpu=50\n1m 1\n30s 2", ":3: load lines must go forward"},
		{"invalid policy", "policy min=3 max=2 cpu=50\n0s 1", "maxReplicas (2) must be at least minReplicas (3)"},
		{"no load", "policy min=1 max=2 cpu=50", "no load lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.trace")
			if err := os.WriteFile(path, []byte(tt.trace), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := run([]string{path}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 1 containing %q", code, errOut.String(), tt.want)
			}
		})
	}
}
