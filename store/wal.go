package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A replicated DB turns every Update into one Record: the operations it
// made, in order, with the raw value bytes, so that replaying the records
// after a checkpoint rebuilds exactly the same contents.
//
// Data is a version byte, then operations, each a kind byte followed by
// uvarint-length-prefixed fields:
//
//	'p' bucket key value   Put
//	'd' bucket key         Delete
//	's' bucket uvarint(n)  the bucket's sequence is n (NextSequence)
const (
	recordVersion = 1
	opPut         = 'p'
	opDelete      = 'd'
	opSequence    = 's'
)

// metaBucket holds the sequence number of the last Update the file holds
// ("seq", 8 bytes big-endian), written in the same transaction as that
// Update, so that any snapshot knows which records it includes.
var (
	metaBucket = []byte("_replica")
	metaSeq    = []byte("seq")
)

// ops collects one Update's operations.
type ops struct {
	buf []byte
}

func (o *ops) field(b []byte) {
	o.buf = binary.AppendUvarint(o.buf, uint64(len(b)))
	o.buf = append(o.buf, b...)
}

func (o *ops) start(kind byte, bucket []byte) {
	if len(o.buf) == 0 {
		o.buf = append(o.buf, recordVersion)
	}
	o.buf = append(o.buf, kind)
	o.field(bucket)
}

func (o *ops) put(bucket, key, value []byte) {
	o.start(opPut, bucket)
	o.field(key)
	o.field(value)
}

func (o *ops) delete(bucket, key []byte) {
	o.start(opDelete, bucket)
	o.field(key)
}

func (o *ops) sequence(bucket []byte, n uint64) {
	o.start(opSequence, bucket)
	o.buf = binary.AppendUvarint(o.buf, n)
}

// readSeq returns the sequence number of the last record tx holds (0: none).
func readSeq(tx *bolt.Tx) (uint64, error) {
	bk := tx.Bucket(metaBucket)
	if bk == nil {
		return 0, nil
	}
	v := bk.Get(metaSeq)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("bucket %s key %s: %d bytes, want 8", metaBucket, metaSeq, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func writeSeq(tx *bolt.Tx, seq uint64) error {
	bk, err := createBucket(tx, metaBucket)
	if err != nil {
		return err
	}
	return bk.Put(metaSeq, binary.BigEndian.AppendUint64(nil, seq))
}

// errBadRecord marks a record that cannot be decoded.
var errBadRecord = errors.New("malformed record")

// apply replays one record's operations in tx.
func apply(tx *bolt.Tx, data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", errBadRecord)
	}
	if data[0] != recordVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", errBadRecord, data[0], recordVersion)
	}
	pos := 1
	bad := func(what string) error {
		return fmt.Errorf("%w: %s at byte %d of %d", errBadRecord, what, pos, len(data))
	}
	uvarint := func(what string) (uint64, error) {
		n, size := binary.Uvarint(data[pos:])
		if size <= 0 {
			return 0, bad("truncated " + what)
		}
		pos += size
		return n, nil
	}
	field := func(what string) ([]byte, error) {
		n, err := uvarint(what + " length")
		if err != nil {
			return nil, err
		}
		if n > uint64(len(data)-pos) {
			return nil, bad(what + " longer than the record")
		}
		b := data[pos : pos+int(n)]
		pos += int(n)
		return b, nil
	}
	for pos < len(data) {
		kind := data[pos]
		pos++
		name, err := field("bucket name")
		if err != nil {
			return err
		}
		if len(name) == 0 {
			return bad("empty bucket name")
		}
		switch kind {
		case opPut:
			key, err := field("key")
			if err != nil {
				return err
			}
			value, err := field("value")
			if err != nil {
				return err
			}
			bk, err := createBucket(tx, name)
			if err != nil {
				return err
			}
			bk.FillPercent = denseFill
			if err := bk.Put(key, value); err != nil {
				return fmt.Errorf("bucket %s: put %q: %w", name, key, err)
			}
		case opDelete:
			key, err := field("key")
			if err != nil {
				return err
			}
			if bk := tx.Bucket(name); bk != nil {
				if err := bk.Delete(key); err != nil {
					return fmt.Errorf("bucket %s: delete %q: %w", name, key, err)
				}
			}
		case opSequence:
			n, err := uvarint("sequence")
			if err != nil {
				return err
			}
			bk, err := createBucket(tx, name)
			if err != nil {
				return err
			}
			if err := bk.SetSequence(n); err != nil {
				return fmt.Errorf("bucket %s: sequence: %w", name, err)
			}
		default:
			pos--
			return bad(fmt.Sprintf("unknown operation %q", kind))
		}
	}
	return nil
}

// replay applies the records of log that follow the file's own sequence
// number, in order, in one transaction, and returns the sequence number
// the file holds afterwards. Records the file already holds (a checkpoint
// taken after they were appended) are skipped; a gap is an error.
func replay(b *bolt.DB, log []Record) (uint64, error) {
	var seq uint64
	err := b.Update(func(tx *bolt.Tx) error {
		var err error
		if seq, err = readSeq(tx); err != nil {
			return fmt.Errorf("the checkpoint's sequence number: %w", err)
		}
		start := seq
		for _, r := range log {
			if r.Seq <= seq {
				continue
			}
			if r.Seq != seq+1 {
				return fmt.Errorf("log record %d follows %d: records %d-%d are missing", r.Seq, seq, seq+1, r.Seq-1)
			}
			if err := apply(tx, r.Data); err != nil {
				return fmt.Errorf("log record %d: %w", r.Seq, err)
			}
			seq = r.Seq
		}
		if seq == start {
			return nil
		}
		return writeSeq(tx, seq)
	})
	return seq, err
}
