package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	doc, err := readState(path)
	if err != nil || len(doc.Groups) != 0 {
		t.Fatalf("missing file: %+v, %v; want an empty state", doc, err)
	}
	s := newStateFile(path)
	a := groupRecord{Project: "demo", Service: "web", Instance: "web-abcd-0", UID: "u0", PID: 10, PGID: 10, StartTime: 1}
	b := groupRecord{Project: "demo", Service: "web", Instance: "web-abcd-1", UID: "u1", PID: 11, PGID: 11, StartTime: 2}
	for _, rec := range []groupRecord{b, a} {
		if err := s.put(rec); err != nil {
			t.Fatal(err)
		}
	}
	doc, err = readState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Groups) != 2 || doc.Groups[0].UID != "u0" || doc.Groups[1].PID != 11 || doc.PID != os.Getpid() {
		t.Fatalf("state %+v", doc)
	}
	if err := s.remove("u0"); err != nil {
		t.Fatal(err)
	}
	if doc, _ = readState(path); len(doc.Groups) != 1 || doc.Groups[0].UID != "u1" {
		t.Fatalf("after remove: %+v", doc)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	write(t, path, "{not json")
	if _, err := readState(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged state: %v, want an error naming the file", err)
	}
}
