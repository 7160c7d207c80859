package sinks

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/opshub/opshub/model"
)

// The buffer keeps records in a compact binary form, cheaper to read back
// than JSON: the time (Unix nanoseconds, 8 bytes little-endian), a flags
// byte, then project, service, instance, container, stream and log, each
// as a uvarint length and its bytes, then the number of labels as a uvarint
// and each label's key and value the same way.

const (
	flagTruncated = 1 << iota
	flagZeroTime
)

var errBadRecord = errors.New("malformed buffered record")

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendRecord appends the buffer form of r.
func appendRecord(dst []byte, r model.LogRecord) []byte {
	var flags byte
	var ns int64
	if r.Time.IsZero() {
		flags |= flagZeroTime
	} else {
		ns = r.Time.UnixNano()
	}
	if r.Truncated {
		flags |= flagTruncated
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ns))
	dst = append(dst, flags)
	dst = appendString(dst, r.Project)
	dst = appendString(dst, r.Service)
	dst = appendString(dst, r.Instance)
	dst = appendString(dst, r.Container)
	dst = appendString(dst, r.Stream)
	dst = appendString(dst, r.Log)
	dst = binary.AppendUvarint(dst, uint64(len(r.Labels)))
	for k, v := range r.Labels {
		dst = appendString(dst, k)
		dst = appendString(dst, v)
	}
	return dst
}

// decodeRecord reads a record appended by appendRecord. Its strings share
// one allocation.
func decodeRecord(p []byte) (model.LogRecord, error) {
	var r model.LogRecord
	if len(p) < 9 {
		return r, errBadRecord
	}
	ns := int64(binary.LittleEndian.Uint64(p))
	flags := p[8]
	all := string(p[9:])
	pos := 0
	next := func() (string, bool) {
		n, k := binary.Uvarint(p[9+pos:])
		if k <= 0 || n > uint64(len(all)-pos-k) {
			return "", false
		}
		start := pos + k
		pos = start + int(n)
		return all[start:pos], true
	}
	fields := []*string{&r.Project, &r.Service, &r.Instance, &r.Container, &r.Stream, &r.Log}
	for _, f := range fields {
		v, ok := next()
		if !ok {
			return r, errBadRecord
		}
		*f = v
	}
	n, k := binary.Uvarint(p[9+pos:])
	if k <= 0 || n > uint64(len(all)) {
		return r, errBadRecord
	}
	pos += k
	if n > 0 {
		r.Labels = make(model.Labels, n)
		for range n {
			key, ok1 := next()
			val, ok2 := next()
			if !ok1 || !ok2 {
				return r, errBadRecord
			}
			r.Labels[key] = val
		}
	}
	if flags&flagZeroTime == 0 {
		r.Time = time.Unix(0, ns).UTC()
	}
	r.Truncated = flags&flagTruncated != 0
	return r, nil
}
