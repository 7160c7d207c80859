package crilog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// writeLines writes lines "line-NN" one per Write, moving the clock by tick
// before each one but the first. Each record is 38 bytes, so with MaxBytes
// 100 a file holds three records.
func writeLines(t *testing.T, f *File, clock *sinktest.FakeClock, from, to int, tick time.Duration) {
	t.Helper()
	w := f.Stream(Stdout)
	for i := from; i < to; i++ {
		if i > 0 {
			clock.Advance(tick)
		}
		if _, err := fmt.Fprintf(w, "line-%02d\n", i); err != nil {
			t.Fatal(err)
		}
	}
}

// wantLines returns the contents of lines from..to-1 as writeLines wrote them.
func wantLines(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line-%02d", i))
	}
	return out
}

func contents(recs []record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.content)
	}
	return out
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name      string
		maxFiles  int
		lines     int
		tick      time.Duration
		wantFiles []string
		wantFrom  int // first line still on disk; the rest were removed as too old
	}{
		{
			name:      "rotated names carry the rotation time, older ones gzipped",
			lines:     12,
			tick:      time.Second,
			maxFiles:  5,
			wantFiles: []string{"0.log.20240501-100003.gz", "0.log.20240501-100006.gz", "0.log.20240501-100009", "0.log"},
		},
		{
			name:      "rotations within one second take the next free second",
			lines:     12,
			tick:      0,
			maxFiles:  5,
			wantFiles: []string{"0.log.20240501-100000.gz", "0.log.20240501-100001.gz", "0.log.20240501-100002", "0.log"},
		},
		{
			name:      "a clock going back does not reorder the files",
			lines:     12,
			tick:      -time.Second,
			maxFiles:  5,
			wantFiles: []string{"0.log.20240501-095957.gz", "0.log.20240501-095958.gz", "0.log.20240501-095959", "0.log"},
		},
		{
			name:      "oldest files are removed to keep MaxFiles",
			lines:     30,
			tick:      time.Second,
			maxFiles:  3,
			wantFiles: []string{"0.log.20240501-100024.gz", "0.log.20240501-100027", "0.log"},
			wantFrom:  21,
		},
		{
			name:      "MaxFiles 2 keeps one uncompressed rotated file",
			lines:     30,
			tick:      time.Second,
			maxFiles:  2,
			wantFiles: []string{"0.log.20240501-100027", "0.log"},
			wantFrom:  24,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := sinktest.NewFakeClock(t0)
			f, err := Open(dir, 0, Options{MaxBytes: 100, MaxFiles: tt.maxFiles, Now: clock.Now,
				OnError: func(err error) { t.Errorf("OnError: %v", err) }})
			if err != nil {
				t.Fatal(err)
			}
			writeLines(t, f, clock, 0, tt.lines, tt.tick)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := logFiles(t, dir, "0.log"); !slices.Equal(got, tt.wantFiles) {
				t.Errorf("files %q, want %q", got, tt.wantFiles)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > tt.maxFiles {
				t.Errorf("%d files in the directory, MaxFiles is %d", len(entries), tt.maxFiles)
			}
			got := contents(readRecords(t, dir, "0.log"))
			if want := wantLines(tt.wantFrom, tt.lines); !slices.Equal(got, want) {
				t.Errorf("lines on disk, oldest first:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestRotationKeepsRecordsWhole(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 20 << 10
	f, err := Open(dir, 0, Options{MaxBytes: maxBytes, MaxFiles: 1000,
		OnError: func(err error) { t.Errorf("OnError: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	var written strings.Builder
	w := f.Stream(Stderr)
	for i := range 10 {
		line := fmt.Sprintf("%d:%s\n", i, text(40000))
		written.WriteString(line)
		for _, p := range chunks(line, 3000) {
			if _, err := w.Write([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	files := logFiles(t, dir, "0.log")
	if len(files) < 10 {
		t.Fatalf("only %d files for 400 KB with MaxBytes %d: %q", len(files), maxBytes, files)
	}
	for _, name := range files {
		if size := len(readLog(t, filepath.Join(dir, name))); size >= maxBytes+maxLineBytes+recordOverhead {
			t.Errorf("%s holds %d bytes, more than one record past MaxBytes", name, size)
		}
	}
	// readRecords fails the test if any file holds a cut record.
	if got := reassemble(readRecords(t, dir, "0.log"), Stderr); got != written.String() {
		t.Errorf("reassembled output differs from what was written")
	}
}

// openNotingErrors opens dir's 0.log on a fake clock at t0, rotated past 100
// bytes with 5 files kept, and notes every error OnError gets.
func openNotingErrors(t *testing.T, dir string) (*File, *sinktest.FakeClock, *[]error) {
	t.Helper()
	clock := sinktest.NewFakeClock(t0)
	errs := &[]error{}
	f, err := Open(dir, 0, Options{MaxBytes: 100, MaxFiles: 5, Now: clock.Now,
		OnError: func(err error) { *errs = append(*errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	return f, clock, errs
}

func TestRotationFailure(t *testing.T) {
	t.Run("writes go on to the current file and rotation is retried 10s later", func(t *testing.T) {
		dir := t.TempDir()
		// A non-empty directory named like a temporary file of an
		// interrupted rotation: the kubelet's clean-up cannot remove it.
		junk := filepath.Join(dir, "0.log.20240101-000000.tmp")
		if err := os.MkdirAll(filepath.Join(junk, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		f, clock, errs := openNotingErrors(t, dir)
		writeLines(t, f, clock, 0, 12, time.Second) // rotation due from line 3, at 10:00:03
		if len(*errs) != 1 || !strings.Contains((*errs)[0].Error(), f.Path()) {
			t.Fatalf("OnError got %v, want one error naming %s", *errs, f.Path())
		}
		if got := logFiles(t, dir, "0.log"); !slices.Equal(got, []string{"0.log.20240101-000000.tmp", "0.log"}) {
			t.Fatalf("files %q, want only the current one besides the junk", got)
		}
		if got := contents(parseRecords(t, "0.log", readLog(t, f.Path()))); !slices.Equal(got, wantLines(0, 12)) {
			t.Fatalf("current file holds %q, want every line", got)
		}

		if err := os.RemoveAll(junk); err != nil {
			t.Fatal(err)
		}
		writeLines(t, f, clock, 12, 13, time.Second) // 10:00:12, before the retry time
		if got := logFiles(t, dir, "0.log"); len(got) != 1 {
			t.Fatalf("rotated before the retry time: %q", got)
		}
		writeLines(t, f, clock, 13, 14, time.Second) // 10:00:13
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := logFiles(t, dir, "0.log"), []string{"0.log.20240501-100013", "0.log"}; !slices.Equal(got, want) {
			t.Fatalf("files %q, want %q", got, want)
		}
		if got := contents(readRecords(t, dir, "0.log")); !slices.Equal(got, wantLines(0, 14)) {
			t.Errorf("lines %q, want every line", got)
		}
		if len(*errs) != 1 {
			t.Errorf("OnError called %d times, want once: %v", len(*errs), *errs)
		}
	})

	t.Run("a file that cannot be compressed does not stop rotation", func(t *testing.T) {
		dir := t.TempDir()
		// A directory named like a rotated file: it cannot be gzipped.
		if err := os.Mkdir(filepath.Join(dir, "0.log.20240101-000000"), 0o755); err != nil {
			t.Fatal(err)
		}
		f, clock, errs := openNotingErrors(t, dir)
		writeLines(t, f, clock, 0, 12, time.Second)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if len(*errs) != 3 {
			t.Errorf("OnError called %d times, want once per rotation (3): %v", len(*errs), *errs)
		}
		want := []string{"0.log.20240101-000000", "0.log.20240501-100003.gz", "0.log.20240501-100006.gz", "0.log.20240501-100009", "0.log"}
		files := logFiles(t, dir, "0.log")
		if !slices.Equal(files, want) {
			t.Fatalf("files %q, want %q", files, want)
		}
		var got []string
		for _, name := range files[1:] {
			got = append(got, contents(parseRecords(t, name, readLog(t, filepath.Join(dir, name))))...)
		}
		if !slices.Equal(got, wantLines(0, 12)) {
			t.Errorf("lines %q, want every line", got)
		}
	})
}

func TestRotationDisabled(t *testing.T) {
	dir := t.TempDir()
	clock := sinktest.NewFakeClock(t0)
	f, err := Open(dir, 0, Options{MaxBytes: -1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, f, clock, 0, 50, time.Second)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := logFiles(t, dir, "0.log"); len(got) != 1 {
		t.Errorf("files %q with rotation disabled", got)
	}
}

func TestOpen(t *testing.T) {
	existing := []string{
		"0.log", "0.log.20240101-000000.gz", "0.log.20240101-000001",
		"1.log", "1.log.20240101-000000.gz",
		"2.log", "10.log",
		"notes.txt", "0.logs", "x0.log",
	}
	tests := []struct {
		name    string
		restart int
		removed []string
	}{
		{name: "first run removes nothing", restart: 0},
		{name: "second run keeps the first run's log", restart: 1},
		{name: "third run removes the first run's logs, rotated ones too", restart: 2,
			removed: []string{"0.log", "0.log.20240101-000000.gz", "0.log.20240101-000001"}},
		{name: "fourth run keeps only the third run's", restart: 3,
			removed: []string{"0.log", "0.log.20240101-000000.gz", "0.log.20240101-000001", "1.log", "1.log.20240101-000000.gz"}},
		{name: "runs compare as numbers, not names", restart: 11,
			removed: []string{"0.log", "0.log.20240101-000000.gz", "0.log.20240101-000001", "1.log", "1.log.20240101-000000.gz", "2.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "svc_0_uid", "web") // created by Open
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range existing {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			f, err := Open(dir, tt.restart, Options{OnError: func(err error) { t.Errorf("OnError: %v", err) }})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			current := fmt.Sprintf("%d.log", tt.restart)
			if f.Path() != filepath.Join(dir, current) {
				t.Errorf("Path() = %s, want %s", f.Path(), filepath.Join(dir, current))
			}
			var want []string
			for _, name := range append(slices.Clone(existing), current) {
				if !slices.Contains(tt.removed, name) && !slices.Contains(want, name) {
					want = append(want, name)
				}
			}
			slices.Sort(want)
			var got []string
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, want) {
				t.Errorf("files %q\nwant %q", got, want)
			}
		})
	}

	t.Run("creates the directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		f, err := Open(dir, 0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if info, err := os.Stat(f.Path()); err != nil || info.Mode().Perm() != fileMode {
			t.Errorf("stat %s: %v, %v; want mode %v", f.Path(), info, err, os.FileMode(fileMode))
		}
	})

	t.Run("appends to the run's log and rotates it if already full", func(t *testing.T) {
		dir := t.TempDir()
		old := "2024-05-01T09:00:00Z stdout F " + strings.Repeat("o", 100) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "1.log"), []byte(old), 0o640); err != nil {
			t.Fatal(err)
		}
		clock := sinktest.NewFakeClock(t0)
		f, err := Open(dir, 1, Options{MaxBytes: 100, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, f, clock, 0, 1, 0)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := logFiles(t, dir, "1.log"), []string{"1.log.20240501-100000", "1.log"}; !slices.Equal(got, want) {
			t.Errorf("files %q, want %q", got, want)
		}
		if got := contents(readRecords(t, dir, "1.log")); !slices.Equal(got, []string{strings.Repeat("o", 100), "line-00"}) {
			t.Errorf("lines %q", got)
		}
	})

	t.Run("bad options are rejected", func(t *testing.T) {
		for _, c := range []struct {
			restart int
			opts    Options
		}{
			{-1, Options{}},
			{0, Options{MaxFiles: 1}},
			{0, Options{MaxFiles: -2}},
		} {
			if f, err := Open(t.TempDir(), c.restart, c.opts); err == nil {
				f.Close()
				t.Errorf("Open(restart %d, %+v) succeeded", c.restart, c.opts)
			}
		}
	})
}

func TestRemoveOldRunsReportsFailures(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory named like a log of an old run cannot be removed.
	if err := os.MkdirAll(filepath.Join(dir, "0.log.20240101-000000", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var errs []error
	f, err := Open(dir, 2, Options{OnError: func(err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatalf("Open failed because an old log could not be removed: %v", err)
	}
	defer f.Close()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "0.log.20240101-000000") {
		t.Errorf("OnError got %v, want one error naming the file", errs)
	}
	if _, err := os.Stat(f.Path()); err != nil {
		t.Errorf("the run's log was not opened: %v", err)
	}
}
