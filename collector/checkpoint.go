package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// The checkpoints live in two files in the state directory: a snapshot of
// every entry, rewritten now and then, and a journal of the entries that
// changed since, appended (and synced) for every group of
// acknowledgements. An append costs what changed, not what is tracked: with
// hundreds of files, rewriting all of them for each group was a visible
// share of the collector's CPU.
const (
	checkpointFile = "checkpoints.json"
	journalFile    = "checkpoints.journal"
	// minJournalBytes is how large the journal may grow before the next
	// save compacts it into a new snapshot (or twice the snapshot, if
	// that is more).
	minJournalBytes = 1 << 20
)

// retainedPerDir bounds how many checkpoints of files that are gone are
// kept per container directory: enough for the kubelet's five files and a
// few rotations more, so that a rotated file compressed later is known.
const retainedPerDir = 16

// checkpoint is where reading of one file stands, as acknowledged by the
// sinks. A file is known by its device and inode while it exists, and by a
// fingerprint of its first bytes when it was copied (copytruncate) or
// compressed (the kubelet gzips rotated files) under another inode.
type checkpoint struct {
	// ID names the entry in the journal; unique within a state directory.
	ID     uint64    `json:"id"`
	Path   string    `json:"path"`
	Dev    uint64    `json:"dev"`
	Ino    uint64    `json:"ino"`
	FPLen  int       `json:"fpLen"`
	FPHash uint64    `json:"fpHash"`
	Offset int64     `json:"offset"`
	Done   bool      `json:"done,omitempty"` // read to its end and no longer written
	Gone   bool      `json:"gone,omitempty"` // no longer on disk under its inode
	Seen   time.Time `json:"seen"`
}

// sameCheckpoint reports whether a and b differ at most in Seen, which
// alone is not worth a journal entry (it orders the retained entries of
// files that are gone, and is written with the next change or snapshot).
func sameCheckpoint(a, b checkpoint) bool {
	a.Seen, b.Seen = time.Time{}, time.Time{}
	return a == b
}

type checkpointState struct {
	Version int `json:"version"`
	// Created is when this state directory was first used: a compressed
	// rotated file that no checkpoint knows is read only when it is newer.
	Created time.Time `json:"created"`
	// Generation pairs the snapshot with its journal: journal entries of
	// another generation were written before this snapshot (a crash
	// between a snapshot and the journal's truncation leaves them) and
	// are ignored.
	Generation uint64       `json:"generation"`
	Files      []checkpoint `json:"files"`
}

// journalEntry is one line of the journal: an entry's new state, or the
// removal of an entry.
type journalEntry struct {
	Gen  uint64      `json:"g"`
	Set  *checkpoint `json:"set,omitempty"`
	Drop uint64      `json:"drop,omitempty"`
}

// checkpointStore reads and writes the snapshot and the journal. save is
// called by one goroutine at a time.
type checkpointStore struct {
	dir string

	mu            sync.Mutex
	gen           uint64
	saved         map[uint64]checkpoint // what the files hold
	journal       *os.File              // nil: the next save writes a snapshot
	journalBytes  int64
	snapshotBytes int64
	buf           []byte
}

// load reads the snapshot and applies the journal of its generation. A
// line that does not parse (the end of an append a crash cut short) is
// skipped. Entries without an ID (written before the journal existed) get
// one. The next save writes a new snapshot.
func (s *checkpointStore) load(now time.Time) (checkpointState, error) {
	st := checkpointState{Version: 2, Created: now}
	snap := filepath.Join(s.dir, checkpointFile)
	b, err := os.ReadFile(snap)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read checkpoints: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read checkpoints %s: %w", snap, err)
	}
	st.Version = 2
	index := make(map[uint64]int, len(st.Files))
	var next uint64 = 1
	for _, f := range st.Files {
		next = max(next, f.ID+1)
	}
	for i := range st.Files {
		if st.Files[i].ID == 0 {
			st.Files[i].ID = next
			next++
		}
		index[st.Files[i].ID] = i
	}
	jb, err := os.ReadFile(filepath.Join(s.dir, journalFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("read checkpoints: %w", err)
	}
	dropped := map[uint64]bool{}
	for line := range bytes.SplitSeq(jb, []byte("\n")) {
		var e journalEntry
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e.Gen != st.Generation {
			continue
		}
		switch {
		case e.Set != nil && e.Set.ID != 0:
			if i, ok := index[e.Set.ID]; ok {
				st.Files[i] = *e.Set
			} else {
				index[e.Set.ID] = len(st.Files)
				st.Files = append(st.Files, *e.Set)
			}
			delete(dropped, e.Set.ID)
		case e.Drop != 0:
			dropped[e.Drop] = true
		}
	}
	if len(dropped) > 0 {
		st.Files = slices.DeleteFunc(st.Files, func(c checkpoint) bool { return dropped[c.ID] })
	}
	s.gen = st.Generation
	return st, nil
}

// save makes st durable: as journal entries for what changed since the last
// save, or as a new snapshot when the journal has grown enough (or none is
// open yet). It returns once the bytes are synced.
func (s *checkpointStore) save(st checkpointState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil || s.journalBytes >= max(minJournalBytes, 2*s.snapshotBytes) {
		return s.compact(st)
	}
	buf := s.buf[:0]
	seen := make(map[uint64]bool, len(st.Files))
	var changed []checkpoint
	for _, f := range st.Files {
		seen[f.ID] = true
		if old, ok := s.saved[f.ID]; ok && sameCheckpoint(old, f) {
			continue
		}
		line, err := json.Marshal(journalEntry{Gen: s.gen, Set: &f})
		if err != nil {
			return fmt.Errorf("encode checkpoints: %w", err)
		}
		buf = append(append(buf, line...), '\n')
		changed = append(changed, f)
	}
	var dropped []uint64
	for id := range s.saved {
		if !seen[id] {
			line, _ := json.Marshal(journalEntry{Gen: s.gen, Drop: id})
			buf = append(append(buf, line...), '\n')
			dropped = append(dropped, id)
		}
	}
	s.buf = buf
	if len(buf) == 0 {
		return nil
	}
	_, err := s.journal.Write(buf)
	if err == nil {
		err = s.journal.Sync()
	}
	if err != nil {
		// The journal's end is unknown now: start over with a snapshot.
		s.journal.Close()
		s.journal = nil
		return fmt.Errorf("write checkpoints %s: %w", filepath.Join(s.dir, journalFile), err)
	}
	s.journalBytes += int64(len(buf))
	for _, f := range changed {
		s.saved[f.ID] = f
	}
	for _, id := range dropped {
		delete(s.saved, id)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	return nil
}

// compact writes st as a snapshot of the next generation, through a
// temporary file that is synced and renamed, so a crash leaves the old
// snapshot (with its journal) or the new one, never a torn file; then it
// starts an empty journal.
func (s *checkpointStore) compact(st checkpointState) error {
	st.Generation = s.gen + 1
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	path := filepath.Join(s.dir, checkpointFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write checkpoints %s: %w", path, werr)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	s.gen = st.Generation
	s.snapshotBytes = int64(len(b))
	s.saved = make(map[uint64]checkpoint, len(st.Files))
	for _, c := range st.Files {
		s.saved[c.ID] = c
	}
	// The old journal's entries are of the old generation: a crash before
	// the truncation below is durable leaves them ignored.
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
	j, err := os.OpenFile(filepath.Join(s.dir, journalFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil // the snapshot is written; the next save tries again
	}
	s.journal, s.journalBytes = j, 0
	return nil
}

// close closes the journal.
func (s *checkpointStore) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
}

// pruneRetained drops checkpoints of gone files whose directory is gone too,
// and all but the newest retainedPerDir gone files of each directory.
func pruneRetained(files []*checkpoint) []*checkpoint {
	perDir := map[string]int{}
	slices.SortStableFunc(files, func(a, b *checkpoint) int { return b.Seen.Compare(a.Seen) })
	out := files[:0]
	for _, c := range files {
		if c.Gone {
			dir := filepath.Dir(c.Path)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			perDir[dir]++
			if perDir[dir] > retainedPerDir {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
