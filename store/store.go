// Package store is opshub's embedded durable state: one bbolt file under
// dataDir with a bucket per concern (alert state, throttle windows, the
// notification outbox, and later checkpoints, spend and releases). Values are
// JSON, reached through small typed handles, so a concern sees only its own
// records and never bbolt itself.
//
// The package must not know what the records mean: no alerting, spend or
// release logic lives here, and it keeps no caches; every read goes to the
// file and every write is committed (fsynced) before it returns. A DB opened
// with OpenReplicated keeps the file as a working copy of a Replica (the
// controller's state in the Kubernetes API): each write is also a small log
// record, a write returns once the replica holds its record, and the whole
// file goes to the replica as a checkpoint now and then, in the background;
// package store/kubestate is that replica.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DB is an open state file. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	rep  *replication // nil unless opened with OpenReplicated
}

// Open opens (creating if needed) the state file at path. Only one process
// may hold it; a second Open waits up to a few seconds and then fails.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store %s: create directory: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	return &DB{bolt: b, path: path}, nil
}

// Close closes the file. Calling it again does nothing.
func (db *DB) Close() error {
	if db == nil || db.bolt == nil {
		return nil
	}
	if db.rep != nil {
		db.rep.close()
	}
	err := db.bolt.Close()
	if err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("store %s: close: %w", db.path, err)
	}
	return nil
}

// Update runs fn in one read-write transaction: every Put and Delete made
// through tx is committed together, or none is when fn returns an error.
// On a DB opened with OpenReplicated, an Update that wrote something
// returns only once the replica holds its commit, or a *SaveError.
func (db *DB) Update(fn func(tx *Tx) error) error {
	if db.rep != nil {
		return db.rep.update(fn)
	}
	return db.update(&Tx{}, fn)
}

// update runs fn in one bbolt write transaction through tx.
func (db *DB) update(tx *Tx, fn func(tx *Tx) error) error {
	err := db.bolt.Update(func(btx *bolt.Tx) error {
		tx.tx = btx
		return fn(tx)
	})
	if errors.Is(err, syscall.ENOSPC) {
		// bbolt writes the new pages before the meta page that makes
		// them current: a commit that failed leaves the file as it was.
		return fmt.Errorf("store %s: the filesystem is full: this write was not kept (the state is as before it): %w", db.path, err)
	}
	return err
}

// View runs fn in a read-only transaction that sees one consistent state.
func (db *DB) View(fn func(tx *Tx) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Tx is one transaction; it is valid only inside the Update or View call
// that handed it out.
type Tx struct {
	tx    *bolt.Tx
	wrote bool // a write method ran, so a replicated DB must save
	// ops records the writes of a replicated DB's Update (nil otherwise);
	// it also means pages are filled to 90 % (see PutTx).
	ops *ops
}

// denseFill is the fill a replicated DB's buckets split at.
const denseFill = 0.9

// Bucket is a typed handle on one bucket of JSON values of type T, keyed by
// strings. Keys sort bytewise, which List and Each follow.
type Bucket[T any] struct {
	db   *DB
	name []byte
}

// NewBucket returns the handle for the bucket called name. The bucket is
// created on its first write.
func NewBucket[T any](db *DB, name string) *Bucket[T] {
	return &Bucket[T]{db: db, name: []byte(name)}
}

// Get returns the value under key, and whether there was one.
func (b *Bucket[T]) Get(key string) (v T, ok bool, err error) {
	err = b.db.View(func(tx *Tx) error {
		v, ok, err = b.GetTx(tx, key)
		return err
	})
	return v, ok, err
}

// Put stores v under key.
func (b *Bucket[T]) Put(key string, v T) error {
	return b.db.Update(func(tx *Tx) error { return b.PutTx(tx, key, v) })
}

// Delete removes key; a missing key is not an error.
func (b *Bucket[T]) Delete(key string) error {
	return b.db.Update(func(tx *Tx) error { return b.DeleteTx(tx, key) })
}

// List returns every value with its key, in key order.
func (b *Bucket[T]) List() ([]Entry[T], error) {
	var out []Entry[T]
	err := b.db.View(func(tx *Tx) error {
		return b.EachTx(tx, func(key string, v T) (bool, error) {
			out = append(out, Entry[T]{Key: key, Value: v})
			return true, nil
		})
	})
	return out, err
}

// Entry is one key and its value.
type Entry[T any] struct {
	Key   string
	Value T
}

// NextSequence returns a number larger than any it returned before for this
// bucket, also across restarts: a source of ordered, never reused ids.
func (b *Bucket[T]) NextSequence() (uint64, error) {
	var n uint64
	err := b.db.Update(func(tx *Tx) error {
		tx.wrote = true
		bk, err := createBucket(tx.tx, b.name)
		if err != nil {
			return err
		}
		n, err = bk.NextSequence()
		if err == nil && tx.ops != nil {
			tx.ops.sequence(b.name, n)
		}
		return err
	})
	return n, err
}

// createBucket returns the bucket called name, created if needed.
func createBucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	bk, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, fmt.Errorf("store bucket %s: %w", name, err)
	}
	return bk, nil
}

// GetTx is Get inside a transaction.
func (b *Bucket[T]) GetTx(tx *Tx, key string) (v T, ok bool, err error) {
	bk := tx.tx.Bucket(b.name)
	if bk == nil {
		return v, false, nil
	}
	raw := bk.Get([]byte(key))
	if raw == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("store bucket %s: decode %q: %w", b.name, key, err)
	}
	return v, true, nil
}

// PutTx is Put inside a read-write transaction.
func (b *Bucket[T]) PutTx(tx *Tx, key string, v T) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store bucket %s: encode %q: %w", b.name, key, err)
	}
	tx.wrote = true
	bk, err := createBucket(tx.tx, b.name)
	if err != nil {
		return err
	}
	if tx.ops != nil {
		// Keys here mostly arrive in order (sequence ids, hours), and
		// bbolt's default split leaves such pages half empty. A replicated
		// DB copies and compresses the whole file on every checkpoint, so
		// fuller pages make every checkpoint cheaper.
		bk.FillPercent = denseFill
	}
	if err := bk.Put([]byte(key), raw); err != nil {
		return fmt.Errorf("store bucket %s: put %q: %w", b.name, key, err)
	}
	if tx.ops != nil {
		tx.ops.put(b.name, []byte(key), raw)
	}
	return nil
}

// DeleteTx is Delete inside a read-write transaction.
func (b *Bucket[T]) DeleteTx(tx *Tx, key string) error {
	bk := tx.tx.Bucket(b.name)
	if bk == nil {
		return nil
	}
	tx.wrote = true
	if err := bk.Delete([]byte(key)); err != nil {
		return fmt.Errorf("store bucket %s: delete %q: %w", b.name, key, err)
	}
	if tx.ops != nil {
		tx.ops.delete(b.name, []byte(key))
	}
	return nil
}

// EachTx calls fn for every entry in key order until fn returns false or an
// error. fn must not write to this bucket.
func (b *Bucket[T]) EachTx(tx *Tx, fn func(key string, v T) (more bool, err error)) error {
	bk := tx.tx.Bucket(b.name)
	if bk == nil {
		return nil
	}
	c := bk.Cursor()
	for k, raw := c.First(); k != nil; k, raw = c.Next() {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("store bucket %s: decode %q: %w", b.name, k, err)
		}
		more, err := fn(string(k), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
