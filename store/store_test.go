package store

import (
	"errors"
	"path/filepath"
	"testing"
)

type record struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestValuesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBucket[record](db, "things")
	for _, k := range []string{"b", "a", "c"} {
		if err := b.Put(k, record{Name: k, Count: len(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete("c"); err != nil {
		t.Fatal(err)
	}
	seq1, _ := b.NextSequence()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b = NewBucket[record](db, "things")
	got, err := b.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "a" || got[1].Value.Name != "b" {
		t.Fatalf("after reopen got %+v, want a and b in key order", got)
	}
	if _, ok, _ := b.Get("c"); ok {
		t.Fatal("deleted key came back")
	}
	if seq2, _ := b.NextSequence(); seq2 <= seq1 {
		t.Fatalf("sequence went from %d to %d across a reopen", seq1, seq2)
	}
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := NewBucket[record](db, "a")
	b := NewBucket[int](db, "b")
	boom := errors.New("boom")
	err = db.Update(func(tx *Tx) error {
		if err := a.PutTx(tx, "x", record{Name: "x"}); err != nil {
			return err
		}
		if err := b.PutTx(tx, "y", 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v", err)
	}
	if _, ok, _ := a.Get("x"); ok {
		t.Fatal("a write of a failed transaction was kept")
	}
	if _, ok, _ := b.Get("y"); ok {
		t.Fatal("a write of a failed transaction was kept")
	}
}
