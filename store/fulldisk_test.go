package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/opshub/opshub/internal/sinktest"
)

// On a filesystem that fills up, a write is refused with an error that
// says so; everything committed before stays readable, the file passes
// bbolt's consistency check after a reopen, and writes succeed again once
// space is freed.
func TestFullDiskRefusesWritesWithoutCorrupting(t *testing.T) {
	dir := sinktest.Tmpfs(t, "2m", false)
	// A filler takes most of the space, so the state file soon hits the end.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Closed before the filesystem is unmounted, even when the test fails.
	t.Cleanup(func() { _ = db.Close() })
	b := NewBucket[record](db, "things")
	value := strings.Repeat("x", 4096)
	committed := 0
	for ; ; committed++ {
		err = b.Put(fmt.Sprintf("k%05d", committed), record{Name: value, Count: committed})
		if err != nil {
			break
		}
		if committed > 10000 {
			t.Fatal("the filesystem never filled")
		}
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "the filesystem is full") || !strings.Contains(err.Error(), path) {
		t.Fatalf("the write on a full disk gave %v; want an error naming the file and the full filesystem", err)
	}
	if committed == 0 {
		t.Fatal("nothing fit before the filesystem was full")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatalf("reopen after the full disk: %v", err)
	}
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("the file is damaged: %v", err)
	}
	b = NewBucket[record](db, "things")
	all, err := b.List()
	if err != nil || len(all) != committed {
		t.Fatalf("read back %d records (%v), %d were committed", len(all), err, committed)
	}
	for i, e := range all {
		if e.Value.Count != i || e.Value.Name != value {
			t.Fatalf("record %s reads back as %+v", e.Key, e.Value.Count)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("after", record{Name: "space again", Count: -1}); err != nil {
		t.Fatalf("a write once space was freed: %v", err)
	}
}
