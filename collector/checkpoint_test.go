package collector

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func offsets(st checkpointState) map[uint64]int64 {
	out := map[uint64]int64{}
	for _, f := range st.Files {
		out[f.ID] = f.Offset
	}
	return out
}

// TestCheckpointJournal: what save wrote is what load reads, through
// journal appends, removals, compactions, an append cut short by a crash,
// and a crash between a snapshot and the journal's truncation.
func TestCheckpointJournal(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	state := func(offs map[uint64]int64) checkpointState {
		st := checkpointState{Version: 2, Created: now}
		for id, off := range offs {
			st.Files = append(st.Files, checkpoint{ID: id, Path: "/p/" + string(rune('a'+id)), Offset: off, Seen: now})
		}
		slices.SortFunc(st.Files, func(a, b checkpoint) int { return int(a.ID) - int(b.ID) })
		return st
	}
	journalSize := func(dir string) int64 {
		fi, err := os.Stat(filepath.Join(dir, journalFile))
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	reload := func(t *testing.T, dir string) map[uint64]int64 {
		t.Helper()
		s := &checkpointStore{dir: dir}
		st, err := s.load(now)
		if err != nil {
			t.Fatal(err)
		}
		return offsets(st)
	}

	t.Run("appends and removals", func(t *testing.T) {
		dir := t.TempDir()
		s := &checkpointStore{dir: dir}
		if err := s.save(state(map[uint64]int64{1: 10, 2: 20, 3: 30})); err != nil {
			t.Fatal(err)
		}
		if journalSize(dir) != 0 {
			t.Fatalf("the first save must write a snapshot and an empty journal")
		}
		if err := s.save(state(map[uint64]int64{1: 11, 2: 20, 3: 30})); err != nil {
			t.Fatal(err)
		}
		one := journalSize(dir)
		if one == 0 {
			t.Fatalf("a changed entry must be appended to the journal")
		}
		if err := s.save(state(map[uint64]int64{1: 12, 2: 20, 4: 40})); err != nil {
			t.Fatal(err)
		}
		s.close()
		if got, want := reload(t, dir), map[uint64]int64{1: 12, 2: 20, 4: 40}; !mapsEqual(got, want) {
			t.Errorf("loaded %v, want %v", got, want)
		}
	})

	t.Run("an append cut short", func(t *testing.T) {
		dir := t.TempDir()
		s := &checkpointStore{dir: dir}
		s.save(state(map[uint64]int64{1: 10, 2: 20}))
		s.save(state(map[uint64]int64{1: 11, 2: 20}))
		s.close()
		f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"g":1,"set":{"id":2,"offset":9`)
		f.Close()
		if got, want := reload(t, dir), map[uint64]int64{1: 11, 2: 20}; !mapsEqual(got, want) {
			t.Errorf("loaded %v, want %v", got, want)
		}
	})

	t.Run("a journal older than the snapshot", func(t *testing.T) {
		dir := t.TempDir()
		s := &checkpointStore{dir: dir}
		s.save(state(map[uint64]int64{1: 10}))
		s.save(state(map[uint64]int64{1: 11}))
		s.close()
		old, err := os.ReadFile(filepath.Join(dir, journalFile))
		if err != nil {
			t.Fatal(err)
		}
		// A new snapshot, and a crash before the journal was emptied.
		s = &checkpointStore{dir: dir}
		st, err := s.load(now)
		if err != nil {
			t.Fatal(err)
		}
		st.Files[0].Offset = 50
		s.save(st)
		s.close()
		if err := os.WriteFile(filepath.Join(dir, journalFile), old, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, want := reload(t, dir), map[uint64]int64{1: 50}; !mapsEqual(got, want) {
			t.Errorf("loaded %v, want %v: the old journal must be ignored", got, want)
		}
	})

	t.Run("compaction", func(t *testing.T) {
		dir := t.TempDir()
		s := &checkpointStore{dir: dir}
		offs := map[uint64]int64{}
		for id := uint64(1); id <= 50; id++ {
			offs[id] = 0
		}
		for range 400 {
			for id := range offs {
				offs[id] += 100
			}
			if err := s.save(state(offs)); err != nil {
				t.Fatal(err)
			}
		}
		s.close()
		if n := journalSize(dir); n > 2*minJournalBytes {
			t.Errorf("journal is %d bytes; it must be compacted past %d", n, minJournalBytes)
		}
		if got := reload(t, dir); !mapsEqual(got, offs) {
			t.Errorf("loaded %v, want %v", got, offs)
		}
	})

	t.Run("entries written before the journal get IDs", func(t *testing.T) {
		dir := t.TempDir()
		old := `{"version":1,"created":"2026-11-24T10:00:00Z","files":[{"path":"/a","dev":1,"ino":2,"fpLen":0,"fpHash":0,"offset":7,"seen":"2026-11-24T10:00:00Z"},{"path":"/b","dev":1,"ino":3,"fpLen":0,"fpHash":0,"offset":8,"seen":"2026-11-24T10:00:00Z"}]}`
		if err := os.WriteFile(filepath.Join(dir, checkpointFile), []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, want := reload(t, dir), map[uint64]int64{1: 7, 2: 8}; !mapsEqual(got, want) {
			t.Errorf("loaded %v, want %v", got, want)
		}
	})
}

func mapsEqual(a, b map[uint64]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
