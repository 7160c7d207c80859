package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Replica keeps a copy of the whole state file somewhere that outlives this
// process and this machine (on Kubernetes: objects in the API server, so
// that a newly elected controller starts from the state its predecessor
// committed).
//
// A DB opened with a Replica restores the file from Load when it opens, and
// every Update returns only after a snapshot that includes its commit has
// been saved, so what the replica holds is never behind what a caller was
// told is committed. Concurrent Updates may share one Save.
type Replica interface {
	// Load returns the latest saved snapshot, or nil and no error when
	// nothing was ever saved.
	Load(ctx context.Context) ([]byte, error)
	// Save stores snapshot (a complete bbolt file) in place of the previous
	// one. It returns once the snapshot is durable; an error means it may
	// not be.
	Save(ctx context.Context, snapshot []byte) error
}

// ReplicaOption tunes OpenReplicated.
type ReplicaOption func(*replicaOptions)

type replicaOptions struct {
	saveTimeout time.Duration
	observe     func(SaveInfo)
}

// DefaultSaveTimeout bounds one Save unless WithSaveTimeout says otherwise.
const DefaultSaveTimeout = 30 * time.Second

// WithSaveTimeout bounds each Save; an Update whose Save times out returns
// an error. d <= 0 keeps DefaultSaveTimeout.
func WithSaveTimeout(d time.Duration) ReplicaOption {
	return func(o *replicaOptions) {
		if d > 0 {
			o.saveTimeout = d
		}
	}
}

// WithSaveObserver calls fn after every Save, from the goroutine that ran
// it, for self-metrics and logs. fn must be quick and must not use the DB.
func WithSaveObserver(fn func(SaveInfo)) ReplicaOption {
	return func(o *replicaOptions) { o.observe = fn }
}

// SaveInfo describes one Save.
type SaveInfo struct {
	// Bytes is the size of the snapshot (the whole bbolt file) handed to
	// the replica, before any compression the replica applies.
	Bytes int
	// Commits is how many Updates waited on this Save (group commit).
	Commits int
	// Duration is the time taken by the snapshot and the Save together.
	Duration time.Duration
	// Err is the error the waiting Updates received, or nil.
	Err error
}

// SaveError is what an Update returns when its transaction committed to
// the local file but the snapshot carrying it could not be saved to the
// replica. The caller must not treat the write as durable: a process that
// opens the state from the replica (a new leader) will not see it unless a
// later Save succeeds. Meanwhile this process does see it in the local file,
// and the next successful Save carries it along with everything after it.
type SaveError struct {
	Err error
}

func (e *SaveError) Error() string {
	return "save to replica: " + e.Err.Error()
}

func (e *SaveError) Unwrap() error { return e.Err }

// OpenReplicated opens the state file at path as the working copy of the
// state kept by r.
//
// It first restores the file from r.Load, bounded by ctx (which is used
// for nothing else; each Save has its own timeout): the replica is
// the truth, so a snapshot replaces any local file, and when the replica
// holds nothing a local file is removed. The path must not be in use by
// another process.
//
// Afterwards every Update (and Put, Delete and NextSequence) that wrote
// something returns only after a snapshot that includes its commit was
// saved through r.Save. Updates that commit while a Save is in flight share
// the next Save, so the write rate is bounded by Save latency and not by
// the number of writers. When a Save fails, the Updates waiting on it
// return a *SaveError although their commits stay in the local file (see
// SaveError). Reads never wait on the replica. A replica that fences
// writers (kubestate.ErrConflict) fails every later Save once another
// process has written: the owner should watch for that error, for example
// with WithSaveObserver, and stop acting on the state.
//
// Because the replica is the durable copy, the local file is written
// without fsync: a crash can only lose the local file, which the next
// OpenReplicated replaces anyway.
func OpenReplicated(ctx context.Context, path string, r Replica, opts ...ReplicaOption) (*DB, error) {
	o := replicaOptions{saveTimeout: DefaultSaveTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	snapshot, err := r.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("store %s: load from replica: %w", path, err)
	}
	if err := restore(path, snapshot); err != nil {
		return nil, err
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		if snapshot != nil {
			return nil, fmt.Errorf("store %s: open the snapshot loaded from the replica: %w", path, err)
		}
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	db := &DB{bolt: b, path: path, dense: true}
	db.rep = &replication{db: db, r: r, opts: o}
	return db, nil
}

// restore puts snapshot at path atomically (write, fsync, rename), or
// removes path when snapshot is nil.
func restore(path string, snapshot []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store %s: create directory: %w", path, err)
	}
	if snapshot == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store %s: remove the local file the replica does not hold: %w", path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".restore-*")
	if err != nil {
		return fmt.Errorf("store %s: restore: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(snapshot)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("store %s: restore: %w", path, err)
	}
	return nil
}

// replication runs group commit: at most one Save is in flight; Updates
// that commit meanwhile join the next round, which starts (with a fresh
// snapshot, so it includes all of them) as soon as the current one ends.
type replication struct {
	db   *DB
	r    Replica
	opts replicaOptions

	mu       sync.Mutex
	running  bool   // a saver goroutine is running rounds
	next     *round // the round that new waiters join; nil when none is pending
	closed   bool
	wg       sync.WaitGroup
	sizeHint int
}

type round struct {
	done    chan struct{}
	err     error
	waiters int
}

// await returns once a snapshot taken after the caller's commit has been
// saved, with that Save's error.
func (rep *replication) await() error {
	rep.mu.Lock()
	if rep.closed {
		rep.mu.Unlock()
		return &SaveError{Err: errors.New("the store was closed before the commit was saved")}
	}
	if rep.next == nil {
		rep.next = &round{done: make(chan struct{})}
	}
	rd := rep.next
	rd.waiters++
	if !rep.running {
		rep.running = true
		rep.wg.Add(1)
		go rep.run()
	}
	rep.mu.Unlock()
	<-rd.done
	return rd.err
}

// run saves rounds until none is pending.
func (rep *replication) run() {
	defer rep.wg.Done()
	for {
		rep.mu.Lock()
		rd := rep.next
		if rd == nil {
			rep.running = false
			rep.mu.Unlock()
			return
		}
		// From here on, new waiters start a new round: their commits may
		// not be in the snapshot this one is about to take.
		rep.next = nil
		rep.mu.Unlock()

		rd.err = rep.save(rd.waiters)
		close(rd.done)
	}
}

func (rep *replication) save(waiters int) error {
	start := time.Now()
	buf := bytes.NewBuffer(make([]byte, 0, rep.sizeHint))
	err := rep.snapshot(buf)
	if err != nil {
		err = fmt.Errorf("snapshot: %w", err)
	} else {
		rep.sizeHint = buf.Len()
		ctx, cancel := context.WithTimeout(context.Background(), rep.opts.saveTimeout)
		err = rep.r.Save(ctx, buf.Bytes())
		cancel()
	}
	if err != nil {
		err = &SaveError{Err: err}
	}
	if rep.opts.observe != nil {
		rep.opts.observe(SaveInfo{Bytes: buf.Len(), Commits: waiters, Duration: time.Since(start), Err: err})
	}
	return err
}

// compactFree is how much of the file free pages must hold before a
// snapshot is compacted: at least a quarter, and at least this many bytes.
const compactFree = 1 << 20

// snapshot writes the whole file as of now to buf. bbolt never shrinks its
// file, and freed pages keep their old bytes, which compress as badly as
// live ones: after a large delete (a pruned history) the snapshot would
// stay as large as the state ever was. So when free pages hold a quarter
// of the file or more, the snapshot is a compacted copy instead (built in
// a temporary file next to the state file), which costs a full rewrite of
// the live data per Save for as long as the file stays that empty.
func (rep *replication) snapshot(buf *bytes.Buffer) error {
	free := int64(rep.db.bolt.Stats().FreeAlloc)
	if free >= compactFree {
		var size int64
		if err := rep.db.bolt.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
			return err
		}
		// Not inside that View: Compact opens its own read transaction,
		// and nested ones deadlock against a writer that remaps the file.
		if free*4 >= size {
			return rep.compacted(buf)
		}
	}
	return rep.db.bolt.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(buf)
		return err
	})
}

// compacted writes a compacted copy of the file to buf.
func (rep *replication) compacted(buf *bytes.Buffer) error {
	path := rep.db.path
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".snapshot-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := bolt.Compact(dst, rep.db.bolt, 0); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return dst.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(buf)
		return err
	})
}

// close makes later waiters fail and waits for the rounds in flight, so
// that every Update told its commit was saved really was.
func (rep *replication) close() {
	rep.mu.Lock()
	rep.closed = true
	rep.mu.Unlock()
	rep.wg.Wait()
}
