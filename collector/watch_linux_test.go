package collector

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDirWatcherReportsEntriesNotWrites: the watcher reports a file
// created, renamed and removed in a watched directory, and a watched
// directory removed, but not writes to a file.
func TestDirWatcherReportsEntriesNotWrites(t *testing.T) {
	w, err := newDirWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dir := t.TempDir()
	sub := filepath.Join(dir, "c")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, sub} {
		if err := w.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	next := func(what string) dirEvent {
		t.Helper()
		select {
		case ev := <-w.Events():
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for %s", what)
			return dirEvent{}
		}
	}
	log := filepath.Join(sub, "0.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next("the new file"); ev.path != log || ev.removed || ev.write {
		t.Fatalf("creating %s: %+v", log, ev)
	}
	for range 100 {
		if _, err := f.WriteString("2026-12-07T10:00:00Z stdout F a line\n"); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	rotated := log + ".20261207-100000"
	if err := os.Rename(log, rotated); err != nil {
		t.Fatal(err)
	}
	// The writes come before the rename: the first event after them must
	// be the rename's.
	if ev := next("the rename"); ev.path != log {
		t.Fatalf("after 100 writes and a rename the first event is %+v, want the rename of %s", ev, log)
	}
	if ev := next("the rename's new name"); ev.path != rotated {
		t.Fatalf("rename: %+v, want %s", ev, rotated)
	}
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	removed := false
	for !removed {
		ev := next("the removed directory")
		removed = ev.removed && ev.path == sub
	}
}
