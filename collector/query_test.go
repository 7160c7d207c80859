package collector

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// writeQueryFixture lays out two instances of demo/web: web-1 with a
// compressed, a rotated and a current file; web-2 with a current file; and
// demo/db, which no query about web may return. Line i of an instance is
// written at base+i seconds (web-2 half a second later).
func writeQueryFixture(t *testing.T) (string, time.Time) {
	t.Helper()
	root := t.TempDir()
	// Times in the past: a file is skipped when it was last written before a
	// query's start.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	rec := func(i int, inst, text string) string {
		stream := "stdout"
		if i%5 == 0 {
			stream = "stderr"
		}
		at := base.Add(time.Duration(i) * time.Second)
		if inst == "web-2" {
			at = at.Add(500 * time.Millisecond) // no two instances' lines share a time
		}
		return fmt.Sprintf("%s %s F %s i=%02d\n", at.Format(time.RFC3339Nano), stream, inst+" "+text, i)
	}
	write := func(path, content string, gz bool) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if gz {
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			zw := gzip.NewWriter(f)
			zw.Write([]byte(content))
			zw.Close()
			f.Close()
			return
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines := func(inst string, from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			text := "GET / 200"
			if i%4 == 0 {
				text = "error: db down"
			}
			b.WriteString(rec(i, inst, text))
		}
		return b.String()
	}
	d1 := filepath.Join(root, "demo_web-1_u1", "web")
	write(filepath.Join(d1, "0.log.20261124-100010.gz"), lines("web-1", 0, 10), true)
	write(filepath.Join(d1, "0.log.20261124-100020"), lines("web-1", 10, 20), false)
	write(filepath.Join(d1, "0.log"), lines("web-1", 20, 30), false)
	write(filepath.Join(root, "demo_web-2_u2", "web", "0.log"), lines("web-2", 0, 30), false)
	write(filepath.Join(root, "demo_db-1_u3", "db", "0.log"), lines("db-1", 0, 30), false)
	return root, base
}

func logs(recs []model.LogRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Log
	}
	return out
}

func TestQuery(t *testing.T) {
	root, base := writeQueryFixture(t)
	r := NewReader(ReaderOptions{Roots: []string{root}})
	tests := []struct {
		name  string
		q     Query
		count int
		first string // first record returned
	}{
		{"last lines of the service, newest first", Query{Limit: 3}, 3, "web-2 GET / 200 i=29"},
		{"forward from the oldest, through the gzipped file", Query{Limit: 2, Direction: Forward, Container: "web-1"}, 2, "web-1 error: db down i=00"},
		{"one container", Query{Container: "web-2", Limit: 1000}, 30, "web-2 GET / 200 i=29"},
		{"time range across rotated files", Query{Container: "web-1", From: base.Add(8 * time.Second), To: base.Add(22 * time.Second), Direction: Forward, Limit: 1000}, 14, "web-1 error: db down i=08"},
		{"text include", Query{TextIncludes: "error", Limit: 1000}, 16, "web-2 error: db down i=28"},
		{"text exclude", Query{TextNotIncludes: "error", Limit: 1000}, 44, "web-2 GET / 200 i=29"},
		{"regex include", Query{RegexIncludes: regexp.MustCompile(`i=1[0-2]`), Limit: 1000, Direction: Forward}, 6, "web-1 GET / 200 i=10"},
		{"regex exclude", Query{RegexNotIncludes: regexp.MustCompile(`GET|error`), Limit: 1000}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Project, tt.q.Service = "demo", "web"
			recs, err := r.Query(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tt.count {
				t.Fatalf("got %d lines, want %d: %q", len(recs), tt.count, logs(recs))
			}
			if tt.count > 0 && recs[0].Log != tt.first {
				t.Errorf("first line %q, want %q", recs[0].Log, tt.first)
			}
			for _, rec := range recs {
				if rec.Project != "demo" || rec.Service != "web" || rec.Container != "web" {
					t.Errorf("record of %s, want demo/web", rec.Ref)
				}
			}
		})
	}
	if _, err := r.Query(context.Background(), Query{Project: "demo", Service: "nope"}); err == nil {
		t.Error("a service without logs must be an error")
	}
}

func TestFollowSendsNewLines(t *testing.T) {
	root, base := writeQueryFixture(t)
	r := NewReader(ReaderOptions{Roots: []string{root}, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan model.LogRecord, 100)
	go r.Follow(ctx, Query{Project: "demo", Service: "web", Container: "web-2", Limit: 2, TextIncludes: "GET"}, func(rec model.LogRecord) error {
		got <- rec
		return nil
	})
	next := func() string {
		select {
		case rec := <-got:
			return rec.Log
		case <-time.After(5 * time.Second):
			t.Fatal("no line within 5s")
			return ""
		}
	}
	for _, want := range []string{"web-2 GET / 200 i=27", "web-2 GET / 200 i=29"} {
		if l := next(); l != want {
			t.Fatalf("got %q, want %q", l, want)
		}
	}
	f, err := os.OpenFile(filepath.Join(root, "demo_web-2_u2", "web", "0.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := base.Add(time.Minute).Format(time.RFC3339Nano)
	fmt.Fprintf(f, "%s stdout F error only\n%s stdout P GET par\n%s stdout F tial\n", ts, ts, ts)
	if l := next(); l != "GET partial" {
		t.Errorf("got %q, want the new, merged line %q", l, "GET partial")
	}
}
