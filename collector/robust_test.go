package collector

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// TestBadInputDoesNotStopTheFile: a 5 MiB single line, a run of random
// bytes and CRI records with broken times each sit between good lines, and
// the good lines after them arrive.
func TestBadInputDoesNotStopTheFile(t *testing.T) {
	const ts = "2026-11-24T10:00:00.000000001Z stdout F "
	random := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name      string
		bad       string
		wantLines int // lines expected in total, good ones included
		check     func(t *testing.T, logs []string)
	}{
		{"5 MiB single line", ts + strings.Repeat("x", 5<<20) + "\n", 3, func(t *testing.T, logs []string) {
			if !strings.HasSuffix(logs[1], "[truncated 4980736 bytes]") || len(logs[1]) > 300<<10 {
				t.Errorf("long line: len %d, ends %q; want it cut at maxLineBytes with a marker", len(logs[1]), logs[1][len(logs[1])-40:])
			}
		}},
		{"random bytes", string(random) + "\n", -1, nil},
		{"broken timestamps", "2026-11-24T25:00:00Z stdout F bad hour\nnot-a-time stderr F bad\n2026-11-24 stdout F short\n", 5, func(t *testing.T, logs []string) {
			if logs[1] != "2026-11-24T25:00:00Z stdout F bad hour" {
				t.Errorf("a malformed line must be passed on raw, got %q", logs[1])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "demo_web-1_uid1", "web")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			content := ts + "before\n" + tt.bad + ts + "after\n"
			if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			out := &memOutput{}
			startCollector(t, root, out, nil)
			sinktest.WaitFor(t, 10*time.Second, "the line after the bad input", func() bool {
				recs := out.records()
				return len(recs) > 0 && recs[len(recs)-1].Log == "after"
			})
			recs := out.records()
			if recs[0].Log != "before" {
				t.Errorf("first line %q, want %q", recs[0].Log, "before")
			}
			if tt.wantLines >= 0 && len(recs) != tt.wantLines {
				t.Errorf("got %d lines, want %d", len(recs), tt.wantLines)
			}
			if tt.check != nil {
				logs := make([]string, len(recs))
				for i, r := range recs {
					logs[i] = r.Log
				}
				tt.check(t, logs)
			}
		})
	}
}
