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

// Replica keeps the state somewhere that outlives this process and this
// machine (on Kubernetes: objects in the API server, so that a newly
// elected controller starts from the state its predecessor committed), as
// a checkpoint (a complete bbolt file) and a log of the records committed
// after it.
//
// A DB opened with a Replica restores the checkpoint and replays the log
// when it opens. Every Update that wrote something is one Record, and the
// Update returns only after Append stored it, so what the replica holds is
// never behind what a caller was told is committed. Concurrent Updates
// share one Append. Now and then (when the log has grown) the DB hands the
// whole file to Checkpoint in the background, which lets the replica drop
// the records the file holds.
//
// The DB calls Append from one goroutine at a time, with records in Seq
// order and without gaps (a batch may repeat records an earlier Append or
// Checkpoint already holds); Checkpoint may run concurrently with Append.
type Replica interface {
	// Load returns the latest checkpoint and the log records stored
	// after it; a zero Loaded and no error when nothing was ever stored.
	Load(ctx context.Context) (Loaded, error)
	// Append stores records after those already held and returns the
	// size of the stored log. It returns once they are durable; an error
	// means they may not be. An error wrapping ErrLogFull means nothing
	// was stored because the log has no room: a Checkpoint makes room.
	Append(ctx context.Context, records []Record) (logBytes int, err error)
	// Checkpoint stores snapshot (a complete bbolt file holding every
	// record up to and including through) in place of the previous one,
	// drops the log records up to through, and returns the size of the
	// stored log. An error means the previous checkpoint and the log are
	// still what Load returns.
	Checkpoint(ctx context.Context, snapshot []byte, through uint64) (logBytes int, err error)
}

// Record is one committed Update as the replica keeps it. Seq numbers the
// commits 1, 2, 3 ... without gaps; Data is opaque to the replica.
type Record struct {
	Seq  uint64
	Data []byte
}

// Loaded is what a Replica holds.
type Loaded struct {
	// Snapshot is the latest checkpoint, nil when there was none.
	Snapshot []byte
	// Log holds the records appended since, in Seq order. It may start
	// with records the checkpoint already holds; they are skipped.
	Log []Record
	// LogBytes is what the log takes in the replica.
	LogBytes int
}

// ErrLogFull is returned (wrapped) by Replica.Append when the log has no
// room for the records: the DB then checkpoints, which holds them, before
// any later write returns (back-pressure).
var ErrLogFull = errors.New("the state log is full")

// ReplicaOption tunes OpenReplicated.
type ReplicaOption func(*replicaOptions)

type replicaOptions struct {
	saveTimeout       time.Duration
	checkpointTimeout time.Duration
	checkpointBytes   int
	checkpointAge     time.Duration
	observe           func(SaveInfo)
}

// Defaults of OpenReplicated's options.
const (
	// DefaultSaveTimeout bounds one Append.
	DefaultSaveTimeout = 30 * time.Second
	// DefaultCheckpointTimeout bounds one Checkpoint.
	DefaultCheckpointTimeout = 5 * time.Minute
	// DefaultCheckpointBytes is the stored log size past which a
	// checkpoint starts in the background.
	DefaultCheckpointBytes = 256 << 10
	// DefaultCheckpointAge is how old the last checkpoint may get while
	// the log holds records before a checkpoint starts anyway.
	DefaultCheckpointAge = time.Hour
)

// WithSaveTimeout bounds each Append; an Update whose Append times out
// returns an error. d <= 0 keeps DefaultSaveTimeout.
func WithSaveTimeout(d time.Duration) ReplicaOption {
	return func(o *replicaOptions) {
		if d > 0 {
			o.saveTimeout = d
		}
	}
}

// WithCheckpoints starts a checkpoint once the stored log passes bytes or
// the last checkpoint is older than age while the log holds records.
// Values <= 0 keep the defaults.
func WithCheckpoints(bytes int, age time.Duration) ReplicaOption {
	return func(o *replicaOptions) {
		if bytes > 0 {
			o.checkpointBytes = bytes
		}
		if age > 0 {
			o.checkpointAge = age
		}
	}
}

// WithSaveObserver calls fn after every Append and Checkpoint, from the
// goroutine that ran it, for self-metrics and logs. fn must be quick and
// must not use the DB. A background Checkpoint's error reaches no Update,
// only fn.
func WithSaveObserver(fn func(SaveInfo)) ReplicaOption {
	return func(o *replicaOptions) { o.observe = fn }
}

// SaveInfo describes one Append or Checkpoint.
type SaveInfo struct {
	// Checkpoint is set for a Checkpoint, false for an Append.
	Checkpoint bool
	// Bytes is what was handed to the replica, before any compression it
	// applies: the records of an Append, the whole file of a Checkpoint.
	Bytes int
	// Records is how many records an Append carried.
	Records int
	// Commits is how many Updates waited on this Append (group commit)
	// or on this Checkpoint (when a full log made them wait).
	Commits int
	// LogBytes is what the replica's log takes afterwards (when Err is nil).
	LogBytes int
	// Duration is the time taken, with the snapshot for a Checkpoint.
	Duration time.Duration
	// Err is the error, or nil.
	Err error
}

// SaveError is what an Update returns when its transaction committed to
// the local file but its record could not be stored in the replica. The
// caller must not treat the write as durable: a process that opens the
// state from the replica (a new leader) will not see it unless a later
// Append or Checkpoint succeeds. Meanwhile this process does see it in the
// local file, and the next successful Append carries it along with
// everything after it.
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
// for nothing else): the replica is the truth, so its checkpoint replaces
// any local file (when the replica holds none, a local file is removed),
// and then the log records after the checkpoint are applied in order.
// The path must not be in use by another process.
//
// Afterwards every Update (and Put, Delete and NextSequence) that wrote
// something returns only after its record was stored through r.Append.
// Updates that commit while an Append is in flight share the next one, so
// the write rate is bounded by Append latency and not by the number of
// writers. When an Append fails, the Updates waiting on it return a
// *SaveError although their commits stay in the local file (see SaveError),
// and their records go with the next Append. When the log has passed
// WithCheckpoints' size or age, a snapshot of the file goes to
// r.Checkpoint in the background; Updates do not wait for it unless the
// replica's log is full (ErrLogFull), when the Append waiting on it turns
// into a Checkpoint. Reads never wait on the replica. A replica that fences
// writers (kubestate.ErrConflict) fails every later Append and Checkpoint
// once another process has written: the owner should watch for that error,
// for example with WithSaveObserver, and stop acting on the state.
//
// Because the replica is the durable copy, the local file is written
// without fsync: a crash can only lose the local file, which the next
// OpenReplicated replaces anyway.
func OpenReplicated(ctx context.Context, path string, r Replica, opts ...ReplicaOption) (*DB, error) {
	o := replicaOptions{
		saveTimeout:       DefaultSaveTimeout,
		checkpointTimeout: DefaultCheckpointTimeout,
		checkpointBytes:   DefaultCheckpointBytes,
		checkpointAge:     DefaultCheckpointAge,
	}
	for _, opt := range opts {
		opt(&o)
	}
	loaded, err := r.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("store %s: load from replica: %w", path, err)
	}
	if err := restore(path, loaded.Snapshot); err != nil {
		return nil, err
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		if loaded.Snapshot != nil {
			return nil, fmt.Errorf("store %s: open the checkpoint loaded from the replica: %w", path, err)
		}
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	seq, err := replay(b, loaded.Log)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("store %s: replay the replica's log: %w", path, err)
	}
	db := &DB{bolt: b, path: path}
	rep := &replication{db: db, r: r, opts: o, seq: seq, durable: seq, logBytes: loaded.LogBytes, lastCheckpoint: time.Now()}
	rep.ctx, rep.cancel = context.WithCancel(context.Background())
	db.rep = rep
	rep.mu.Lock()
	rep.maybeCheckpoint()
	rep.mu.Unlock()
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

// replication runs group commit of records and background checkpoints. At
// most one Append is in flight; Updates that commit meanwhile join the next
// round, which appends every pending record (those of failed rounds too)
// as soon as the current one ends. A checkpoint runs beside the appends.
type replication struct {
	db   *DB
	r    Replica
	opts replicaOptions

	// writeMu is held from an Update's transaction until its record is
	// queued, so that records queue in Seq order.
	writeMu sync.Mutex
	seq     uint64 // the last committed record's Seq, under writeMu

	mu      sync.Mutex
	pending []Record // committed here, not yet known to be in the replica, in Seq order
	durable uint64   // the replica holds every record up to this Seq
	next    *round   // the round that new waiters join; nil when none is pending
	running bool     // an appender goroutine is running rounds
	closed  bool
	appends sync.WaitGroup

	logBytes       int       // the replica's log, as last reported
	checkpoints    int       // checkpoints done, to tell stale log sizes
	checkpointing  bool      // a background checkpoint runs
	lastCheckpoint time.Time // or the open
	retryAt        time.Time // after a failed background checkpoint, not before
	background     sync.WaitGroup
	ctx            context.Context // ends background checkpoints at close
	cancel         context.CancelFunc

	ckMu     sync.Mutex // one checkpoint at a time
	sizeHint int        // the last snapshot's size, under ckMu
}

type round struct {
	done    chan struct{}
	err     error
	waiters int
}

// checkpointRetry is how long a failed background checkpoint waits before
// the next one may start (a full log starts one at once).
const checkpointRetry = 30 * time.Second

// update runs fn as one write transaction that also records its operations
// and its Seq, then waits until the replica holds the record.
func (rep *replication) update(fn func(*Tx) error) error {
	tx := &Tx{ops: &ops{}}
	rep.writeMu.Lock()
	seq := rep.seq + 1
	err := rep.db.update(tx, func(tx *Tx) error {
		if err := fn(tx); err != nil || len(tx.ops.buf) == 0 {
			return err
		}
		return writeSeq(tx.tx, seq)
	})
	if err != nil || len(tx.ops.buf) == 0 {
		rep.writeMu.Unlock()
		return err
	}
	rep.seq = seq
	rep.mu.Lock()
	rep.writeMu.Unlock()
	rep.pending = append(rep.pending, Record{Seq: seq, Data: tx.ops.buf})
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
		rep.appends.Add(1)
		go rep.run()
	}
	rep.mu.Unlock()
	<-rd.done
	return rd.err
}

// run appends rounds until none is pending.
func (rep *replication) run() {
	defer rep.appends.Done()
	for {
		rep.mu.Lock()
		rd := rep.next
		if rd == nil {
			rep.running = false
			rep.mu.Unlock()
			return
		}
		// From here on, new waiters start a new round. Every record of
		// this round's waiters is pending now; records are never changed,
		// so the batch may share pending's array.
		rep.next = nil
		batch := rep.pending[:len(rep.pending):len(rep.pending)]
		checkpoints := rep.checkpoints
		rep.mu.Unlock()

		rd.err = rep.append(batch, rd.waiters, checkpoints)
		close(rd.done)
	}
}

// append stores batch, or when the replica's log is full, a checkpoint.
func (rep *replication) append(batch []Record, waiters, checkpoints int) error {
	rep.mu.Lock()
	durable := rep.durable
	rep.mu.Unlock()
	for len(batch) > 0 && batch[0].Seq <= durable {
		batch = batch[1:] // a checkpoint took them meanwhile
	}
	if len(batch) == 0 {
		return nil
	}
	start := time.Now()
	size := 0
	for _, r := range batch {
		size += len(r.Data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rep.opts.saveTimeout)
	logBytes, err := rep.r.Append(ctx, batch)
	cancel()
	if errors.Is(err, ErrLogFull) {
		// Back-pressure: these commits (and those queuing behind them)
		// wait for a checkpoint, which holds them all.
		return rep.checkpoint(context.Background(), waiters)
	}
	if err != nil {
		err = &SaveError{Err: err}
	} else {
		rep.stored(batch[len(batch)-1].Seq, logBytes, checkpoints, false)
	}
	rep.observe(SaveInfo{Bytes: size, Records: len(batch), Commits: waiters, LogBytes: logBytes, Duration: time.Since(start), Err: err})
	return err
}

// checkpoint snapshots the file and stores it through Checkpoint.
func (rep *replication) checkpoint(ctx context.Context, waiters int) error {
	rep.ckMu.Lock()
	defer rep.ckMu.Unlock()
	start := time.Now()
	buf := bytes.NewBuffer(make([]byte, 0, rep.sizeHint))
	logBytes := 0
	through, err := rep.snapshot(buf)
	if err != nil {
		err = fmt.Errorf("snapshot: %w", err)
	} else {
		rep.sizeHint = buf.Len()
		ctx, cancel := context.WithTimeout(ctx, rep.opts.checkpointTimeout)
		logBytes, err = rep.r.Checkpoint(ctx, buf.Bytes(), through)
		cancel()
	}
	if err != nil {
		err = &SaveError{Err: fmt.Errorf("checkpoint: %w", err)}
	} else {
		rep.stored(through, logBytes, -1, true)
	}
	rep.observe(SaveInfo{Checkpoint: true, Bytes: buf.Len(), Commits: waiters, LogBytes: logBytes, Duration: time.Since(start), Err: err})
	return err
}

// stored notes that the replica holds every record up to through. The log
// size an Append reported is stale when a checkpoint finished meanwhile
// (checkpoints is the count when it started; -1 for a checkpoint).
func (rep *replication) stored(through uint64, logBytes, checkpoints int, checkpoint bool) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.durable = max(rep.durable, through)
	i := 0
	for i < len(rep.pending) && rep.pending[i].Seq <= rep.durable {
		i++
	}
	rep.pending = rep.pending[i:]
	if checkpoint {
		rep.checkpoints++
		rep.lastCheckpoint = time.Now()
		rep.logBytes = logBytes
	} else if checkpoints == rep.checkpoints {
		rep.logBytes = logBytes
	}
	rep.maybeCheckpoint()
}

// maybeCheckpoint starts a background checkpoint when the log is due one.
// rep.mu must be held.
func (rep *replication) maybeCheckpoint() {
	if rep.checkpointing || rep.closed || rep.logBytes == 0 {
		return
	}
	now := time.Now()
	due := rep.logBytes >= rep.opts.checkpointBytes || now.Sub(rep.lastCheckpoint) >= rep.opts.checkpointAge
	if !due || now.Before(rep.retryAt) {
		return
	}
	rep.checkpointing = true
	rep.background.Add(1)
	go func() {
		defer rep.background.Done()
		err := rep.checkpoint(rep.ctx, 0)
		rep.mu.Lock()
		defer rep.mu.Unlock()
		rep.checkpointing = false
		if err != nil {
			rep.retryAt = time.Now().Add(checkpointRetry)
			return
		}
		// Appends made meanwhile may have made the log due again.
		rep.maybeCheckpoint()
	}()
}

func (rep *replication) observe(info SaveInfo) {
	if rep.opts.observe != nil {
		rep.opts.observe(info)
	}
}

// compactFree is how much of the file free pages must hold before a
// snapshot is compacted: at least a quarter, and at least this many bytes.
const compactFree = 1 << 20

// snapshot writes the whole file as of now to buf and returns the Seq of
// the last record it holds. bbolt never shrinks its file, and freed pages
// keep their old bytes, which compress as badly as live ones: after a
// large delete (a pruned history) the snapshot would stay as large as the
// state ever was. So when free pages hold a quarter of the file or more,
// the snapshot is a compacted copy instead (built in a temporary file next
// to the state file), which costs a full rewrite of the live data per
// checkpoint for as long as the file stays that empty.
func (rep *replication) snapshot(buf *bytes.Buffer) (uint64, error) {
	free := int64(rep.db.bolt.Stats().FreeAlloc)
	if free >= compactFree {
		var size int64
		if err := rep.db.bolt.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
			return 0, err
		}
		// Not inside that View: Compact opens its own read transaction,
		// and nested ones deadlock against a writer that remaps the file.
		if free*4 >= size {
			return rep.compacted(buf)
		}
	}
	return writeTo(rep.db.bolt, buf)
}

// writeTo writes the file b as of one read transaction to buf and returns
// the Seq it holds.
func writeTo(b *bolt.DB, buf *bytes.Buffer) (seq uint64, err error) {
	err = b.View(func(tx *bolt.Tx) error {
		if seq, err = readSeq(tx); err != nil {
			return err
		}
		_, err := tx.WriteTo(buf)
		return err
	})
	return seq, err
}

// compacted writes a compacted copy of the file to buf.
func (rep *replication) compacted(buf *bytes.Buffer) (uint64, error) {
	path := rep.db.path
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".snapshot-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	if err := bolt.Compact(dst, rep.db.bolt, 0); err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	return writeTo(dst, buf)
}

// close makes later waiters fail, waits for the rounds in flight, so that
// every Update told its commit was saved really was, and then ends a
// background checkpoint.
func (rep *replication) close() {
	rep.mu.Lock()
	rep.closed = true
	rep.mu.Unlock()
	rep.appends.Wait()
	rep.cancel()
	rep.background.Wait()
}
