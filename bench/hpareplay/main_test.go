package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/autoscaler"
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

// TestLoadIsReplayedInMillicores: a demand that does not divide evenly is
// split in whole millicores that add up to it exactly, whatever the count
// of serving instances; instances named missing report nothing.
func TestLoadIsReplayedInMillicores(t *testing.T) {
	tr, err := parseTrace(strings.NewReader("policy min=1 max=10 cpu=50\n0s 2 missing=i4\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for n := 1; n <= 7; n++ {
		var ins []instance
		for i := range n {
			ins = append(ins, instance{name: fmt.Sprintf("i%d", i), started: now.Add(-time.Hour)})
		}
		var sum int64
		for _, p := range simulate(tr, tr.phases[0], ins, now) {
			if s, ok := p.Usage[autoscaler.CPU]; ok {
				sum += autoscaler.Quantity(autoscaler.CPU, s.Value)
			}
		}
		want := int64(2000)
		if n > 4 {
			// i4 serves its share but reports nothing; the first 2000 % n
			// instances get a millicore more than the others.
			share := 2000 / int64(n)
			if 4 < 2000%int64(n) {
				share++
			}
			want -= share
		}
		if sum != want {
			t.Errorf("%d instances report %dm in all, want %dm", n, sum, want)
		}
	}
}
