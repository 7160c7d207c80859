package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// memReplica is a Replica in memory. It checks the contract: records
// arrive in Seq order without gaps, checkpoints never go back. Append and
// Checkpoint can be made to fail or to wait for the test's go-ahead.
type memReplica struct {
	mu             sync.Mutex
	snapshot       []byte
	through        uint64 // the Seq the snapshot holds
	log            []Record
	appends        int
	checkpoints    int
	failWith       error         // Append fails with it
	failCheckpoint error         // Checkpoint fails with it
	gate           chan struct{} // when set, each Append waits for one receive
	ckGate         chan struct{} // when set, each Checkpoint waits for one receive
	ckWaiting      int           // Checkpoints waiting at ckGate
	logLimit       int           // when set, an Append past this many bytes of log fails with ErrLogFull
	loadErr        error
}

func (m *memReplica) Load(context.Context) (Loaded, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loadErr != nil {
		return Loaded{}, m.loadErr
	}
	return Loaded{Snapshot: bytes.Clone(m.snapshot), Log: slices.Clone(m.log), LogBytes: m.logBytes()}, nil
}

func (m *memReplica) logBytes() int {
	n := 0
	for _, r := range m.log {
		n += len(r.Data)
	}
	return n
}

func (m *memReplica) last() uint64 {
	if len(m.log) > 0 {
		return max(m.through, m.log[len(m.log)-1].Seq)
	}
	return m.through
}

func (m *memReplica) Append(ctx context.Context, records []Record) (int, error) {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appends++
	if m.failWith != nil {
		return 0, m.failWith
	}
	size, last := 0, m.last()
	var add []Record
	for _, r := range records {
		if r.Seq <= last {
			continue
		}
		if r.Seq != last+1 {
			return 0, fmt.Errorf("record %d after %d: a gap", r.Seq, last)
		}
		last = r.Seq
		size += len(r.Data)
		add = append(add, Record{Seq: r.Seq, Data: bytes.Clone(r.Data)})
	}
	if m.logLimit > 0 && m.logBytes()+size > m.logLimit {
		return 0, fmt.Errorf("%d bytes more: %w", size, ErrLogFull)
	}
	m.log = append(m.log, add...)
	return m.logBytes(), nil
}

func (m *memReplica) Checkpoint(ctx context.Context, snapshot []byte, through uint64) (int, error) {
	m.mu.Lock()
	gate := m.ckGate
	m.ckWaiting++
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			m.mu.Lock()
			m.ckWaiting--
			m.mu.Unlock()
			return 0, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ckWaiting--
	m.checkpoints++
	if m.failCheckpoint != nil {
		return 0, m.failCheckpoint
	}
	if through < m.through {
		return 0, fmt.Errorf("checkpoint through %d after one through %d", through, m.through)
	}
	m.snapshot, m.through = bytes.Clone(snapshot), through
	m.log = slices.DeleteFunc(m.log, func(r Record) bool { return r.Seq <= through })
	return m.logBytes(), nil
}

func (m *memReplica) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appends
}

func openReplicated(t *testing.T, r Replica, opts ...ReplicaOption) *DB {
	t.Helper()
	db, err := OpenReplicated(context.Background(), filepath.Join(t.TempDir(), "state.db"), r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func keys(t *testing.T, db *DB, bucket string) []string {
	t.Helper()
	entries, err := NewBucket[record](db, bucket).List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Key)
	}
	return out
}

func TestReplicatedDBOpenedElsewhereSeesEveryCommit(t *testing.T) {
	r := &memReplica{}
	a := openReplicated(t, r)
	things := NewBucket[record](a, "things")
	for i := range 5 {
		if err := things.Put(fmt.Sprintf("k%d", i), record{Name: "v", Count: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := things.Delete("k4"); err != nil {
		t.Fatal(err)
	}
	seq, err := things.NextSequence()
	if err != nil {
		t.Fatal(err)
	}

	// A is never closed: the new DB must not depend on a clean shutdown.
	// Its own path holds an unrelated local file, which the replica's copy
	// replaces.
	path := filepath.Join(t.TempDir(), "state.db")
	stale, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewBucket[record](stale, "things").Put("stale", record{}); err != nil {
		t.Fatal(err)
	}
	stale.Close()

	b, err := OpenReplicated(context.Background(), path, r)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := fmt.Sprint(keys(t, b, "things")); got != "[k0 k1 k2 k3]" {
		t.Fatalf("new DB sees %s, want [k0 k1 k2 k3]", got)
	}
	if v, _, _ := NewBucket[record](b, "things").Get("k3"); v.Count != 3 {
		t.Fatalf("k3 = %+v", v)
	}
	if next, _ := NewBucket[record](b, "things").NextSequence(); next != seq+1 {
		t.Fatalf("sequence after failover = %d, want %d", next, seq+1)
	}
}

func TestReplicatedOpenWithEmptyReplicaDropsLocalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	local, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewBucket[record](local, "things").Put("never-saved", record{}); err != nil {
		t.Fatal(err)
	}
	local.Close()

	db, err := OpenReplicated(context.Background(), path, &memReplica{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := keys(t, db, "things"); len(got) != 0 {
		t.Fatalf("state the replica never held survived: %v", got)
	}
}

func TestReplicatedOpenFailsWhenLoadFailsOrSnapshotIsBroken(t *testing.T) {
	boom := errors.New("api server unreachable")
	_, err := OpenReplicated(context.Background(), filepath.Join(t.TempDir(), "state.db"), &memReplica{loadErr: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the Load error", err)
	}
	_, err = OpenReplicated(context.Background(), filepath.Join(t.TempDir(), "state.db"), &memReplica{snapshot: []byte("not a bbolt file")})
	if err == nil {
		t.Fatal("a broken snapshot opened")
	}
}

func TestReplicatedUpdateFailsWhenSaveFails(t *testing.T) {
	r := &memReplica{}
	db := openReplicated(t, r)
	things := NewBucket[record](db, "things")
	if err := things.Put("saved", record{Count: 1}); err != nil {
		t.Fatal(err)
	}

	conflict := errors.New("another controller wrote the state")
	r.mu.Lock()
	r.failWith = conflict
	r.mu.Unlock()
	err := things.Put("unsaved", record{Count: 2})
	var se *SaveError
	if !errors.As(err, &se) || !errors.Is(err, conflict) {
		t.Fatalf("Put with a failing Save returned %v, want a *SaveError wrapping the replica's error", err)
	}
	// The commit is in the local file: this process reads it ...
	if _, ok, _ := things.Get("unsaved"); !ok {
		t.Fatal("the local file lost the commit whose Save failed")
	}
	// ... but a new leader does not.
	other := openReplicated(t, r)
	if got := fmt.Sprint(keys(t, other, "things")); got != "[saved]" {
		t.Fatalf("replica holds %s, want [saved]", got)
	}
	other.Close()

	// The next successful Save carries the earlier commit along.
	r.mu.Lock()
	r.failWith = nil
	r.mu.Unlock()
	if err := things.Put("later", record{Count: 3}); err != nil {
		t.Fatal(err)
	}
	third := openReplicated(t, r)
	if got := fmt.Sprint(keys(t, third, "things")); got != "[later saved unsaved]" {
		t.Fatalf("replica holds %s, want [later saved unsaved]", got)
	}
}

func TestReplicatedReadsAndEmptyUpdatesDoNotSave(t *testing.T) {
	r := &memReplica{}
	db := openReplicated(t, r)
	things := NewBucket[record](db, "things")
	if err := things.Put("a", record{}); err != nil {
		t.Fatal(err)
	}
	before := r.count()
	if _, _, err := things.Get("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := things.List(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error {
		_, _, err := things.GetTx(tx, "a")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error {
		if err := things.PutTx(tx, "b", record{}); err != nil {
			return err
		}
		return errors.New("changed my mind")
	}); err == nil {
		t.Fatal("failed Update returned nil")
	}
	if got := r.count(); got != before {
		t.Fatalf("reads, an Update without writes and a rolled back Update made %d Saves", got-before)
	}
}

func TestReplicatedConcurrentUpdatesShareSaves(t *testing.T) {
	gate := make(chan struct{})
	r := &memReplica{gate: gate}
	db := openReplicated(t, r)
	things := NewBucket[record](db, "things")

	// The first Put's Save waits at the gate ...
	first := make(chan error, 1)
	go func() { first <- things.Put("first", record{}) }()
	sinktest.WaitFor(t, 20*time.Second, "the condition", func() bool {
		db.rep.mu.Lock()
		defer db.rep.mu.Unlock()
		return db.rep.running && db.rep.next == nil
	})

	// ... while 20 more commit and queue up behind it.
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- things.Put(fmt.Sprintf("k%02d", i), record{Count: i}) }()
	}
	sinktest.WaitFor(t, 20*time.Second, "the condition", func() bool {
		db.rep.mu.Lock()
		defer db.rep.mu.Unlock()
		return db.rep.next != nil && db.rep.next.waiters == n
	})

	gate <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	gate <- struct{}{}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := r.count(); got != 2 {
		t.Fatalf("21 Updates made %d Saves, want 2 (one, then one shared by the 20 that waited)", got)
	}
	other := openReplicated(t, r)
	if got := len(keys(t, other, "things")); got != n+1 {
		t.Fatalf("replica holds %d records, want %d", got, n+1)
	}
}

func TestReplicatedManyWritersLoseNothing(t *testing.T) {
	r := &memReplica{}
	db := openReplicated(t, r)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := NewBucket[int](db, fmt.Sprintf("w%d", w))
			for i := range each {
				if err := b.Put(fmt.Sprintf("%03d", i), i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := r.count(); got > writers*each {
		t.Fatalf("%d Saves for %d Updates", got, writers*each)
	}
	// Closing abruptly is not needed: every Put returned after its Save.
	wantEach(t, openReplicated(t, r), writers, each)
}

// wantEach fails unless db holds each records in each of the buckets
// w0 ... w<writers-1>.
func wantEach(t *testing.T, db *DB, writers, each int) {
	t.Helper()
	for w := range writers {
		entries, err := NewBucket[int](db, fmt.Sprintf("w%d", w)).List()
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != each {
			t.Fatalf("writer %d: replica holds %d records, want %d", w, len(entries), each)
		}
	}
}

func TestReplicatedCloseWaitsForTheSaveInFlight(t *testing.T) {
	gate := make(chan struct{})
	r := &memReplica{gate: gate}
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := OpenReplicated(context.Background(), path, r)
	if err != nil {
		t.Fatal(err)
	}
	put := make(chan error, 1)
	go func() { put <- NewBucket[record](db, "things").Put("a", record{}) }()
	sinktest.WaitFor(t, 20*time.Second, "the condition", func() bool {
		db.rep.mu.Lock()
		defer db.rep.mu.Unlock()
		return db.rep.running
	})
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	sinktest.WaitFor(t, 20*time.Second, "the condition", func() bool {
		db.rep.mu.Lock()
		defer db.rep.mu.Unlock()
		return db.rep.closed
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a Save was in flight", err)
	default:
	}
	gate <- struct{}{}
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := NewBucket[record](db, "things").Put("b", record{}); err == nil {
		t.Fatal("Put after Close succeeded")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPut compares a Put on a plain DB with one on a DB replicated to
// memory (the snapshot copy without any network), so that a change to the
// replicated path shows whether plain Open pays for it.
func BenchmarkPut(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(path string) (*DB, error)
	}{
		{"plain", Open},
		{"replicated-to-memory", func(path string) (*DB, error) {
			return OpenReplicated(context.Background(), path, &memReplica{})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			db, err := tc.open(filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			things := NewBucket[record](db, "things")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := things.Put(fmt.Sprintf("k%06d", i%1000), record{Name: "x", Count: i}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func TestReplicatedSnapshotShrinksAfterALargeDelete(t *testing.T) {
	r := &memReplica{}
	// Every Append is followed by a checkpoint.
	db := openReplicated(t, r, WithCheckpoints(1, 0))
	big := NewBucket[string](db, "history")
	kept := NewBucket[record](db, "kept")
	// 2 MB of history, written in a few commits.
	for i := range 4 {
		if err := db.Update(func(tx *Tx) error {
			for j := range 128 {
				if err := big.PutTx(tx, fmt.Sprintf("%02d-%03d", i, j), fmt.Sprintf("%x", randomish(i*128+j, 2048))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := kept.Put("a", record{Name: "a", Count: 1}); err != nil {
		t.Fatal(err)
	}
	seq, err := kept.NextSequence()
	if err != nil {
		t.Fatal(err)
	}
	full := len(checkpointed(t, db, r))

	// Pruned: the file keeps its size, the snapshot must not.
	entries, err := big.List()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error {
		for _, e := range entries[1:] {
			if err := big.DeleteTx(tx, e.Key); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := len(checkpointed(t, db, r)); got > full/4 {
		t.Fatalf("after deleting all but one of 512 records the snapshot is %d bytes, %d before", got, full)
	}

	other := openReplicated(t, r)
	if got := keys(t, other, "kept"); fmt.Sprint(got) != "[a]" {
		t.Fatalf("compacted snapshot holds %v", got)
	}
	if n, err := NewBucket[string](other, "history").List(); err != nil || len(n) != 1 {
		t.Fatalf("compacted snapshot holds %d history records, %v", len(n), err)
	}
	if next, _ := NewBucket[record](other, "kept").NextSequence(); next != seq+1 {
		t.Fatalf("sequence after a compacted snapshot = %d, want %d", next, seq+1)
	}
}

// checkpointed waits until r holds a checkpoint of everything db committed
// and returns it.
func checkpointed(t *testing.T, db *DB, r *memReplica) []byte {
	t.Helper()
	db.rep.writeMu.Lock()
	seq := db.rep.seq
	db.rep.writeMu.Unlock()
	var snapshot []byte
	sinktest.WaitFor(t, 20*time.Second, fmt.Sprintf("a checkpoint through record %d", seq), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		snapshot = r.snapshot
		return r.through == seq
	})
	return snapshot
}

// randomish returns n bytes that do not compress, the same for the same seed.
func randomish(seed, n int) []byte {
	out := make([]byte, n)
	x := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = byte(x)
	}
	return out
}
