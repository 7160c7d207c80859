package crilog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

const (
	// Stdout and Stderr are the stream names a record may carry.
	Stdout = "stdout"
	Stderr = "stderr"

	// maxLineBytes is the longest content of one record: containerd's
	// default max_container_log_line_size. Longer lines are split.
	maxLineBytes = 16 << 10
	// flushBytes is about how many bytes of records a Write collects before
	// it writes them to the file: one write(2) for many short records. Every
	// Write ends by writing what it collected, so readers wait for nothing.
	flushBytes = 64 << 10
	// recordOverhead bounds the bytes a record adds to its content: a UTC
	// RFC3339Nano time (at most 30 bytes), the stream, the tag, spaces, "\n".
	recordOverhead = 64

	tagPartial = 'P'
	tagFull    = 'F'
)

// Stream returns the writer for one stream, Stdout or Stderr; it panics on
// any other name, which is a programming error. Bytes written are split into
// lines, each written as one record
//
//	<RFC3339Nano time in UTC> <stream> <F|P> <content>\n
//
// where the content excludes the "\n", and a "\r" right before it, as
// containerd drops both. A line longer than 16 KiB is written as 16 KiB
// pieces tagged P, the last piece tagged F. Bytes are written as they come:
// invalid UTF-8 and NUL included. A line is written once its end (or a full
// piece of it) has arrived; at Close, bytes left without a newline are written
// as a P record, as containerd writes them when a container's stream ends.
//
// A record's time is when the Write (or Close) that completes it was called,
// as containerd stamps a record when it writes it; the records of one Write
// share that time.
//
// Records of the two streams never interleave. Each Write returns after its
// records are in the file, with the error of writing the file if that failed;
// rotation errors go to Options.OnError and do not fail a Write.
func (f *File) Stream(stream string) io.WriteCloser {
	if stream != Stdout && stream != Stderr {
		panic(fmt.Sprintf("crilog: unknown stream %q, want %q or %q", stream, Stdout, Stderr))
	}
	s := &streamWriter{f: f, name: stream, pending: make([]byte, 0, maxLineBytes+1)}
	f.mu.Lock()
	f.streams = append(f.streams, s)
	f.mu.Unlock()
	return s
}

// streamWriter turns one stream's bytes into records. Its state is guarded by
// its File's mutex, which also keeps the two streams' records apart.
type streamWriter struct {
	f    *File
	name string
	// pending holds the start of the current line that is not written yet:
	// at most maxLineBytes, or one more when it ends in '\r', because that
	// '\r' is dropped if "\n" follows and is content otherwise.
	pending []byte
	closed  bool
}

func (s *streamWriter) Write(p []byte) (int, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.closed || f.closed {
		return 0, fmt.Errorf("crilog: write %s to %s: %w", s.name, f.path, os.ErrClosed)
	}
	// One time for all the records of a Write: they arrived together.
	now := f.opts.Now()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if err := s.addPartial(now, p); err != nil {
				return 0, err
			}
			break
		}
		if err := s.endLine(now, p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	if err := f.flush(); err != nil {
		return 0, err
	}
	return n, nil
}

// addPartial adds b, which holds no '\n', to the current line, and writes the
// 16 KiB pieces of the line that are known not to be its last.
func (s *streamWriter) addPartial(now time.Time, b []byte) error {
	limit := maxLineBytes
	if last(s.pending, b) == '\r' {
		limit++
	}
	b, err := s.spill(now, b, limit)
	s.pending = append(s.pending, b...)
	return err
}

// endLine ends the current line with b, the bytes before its '\n'.
func (s *streamWriter) endLine(now time.Time, b []byte) error {
	if n := len(b); n > 0 {
		if b[n-1] == '\r' {
			b = b[:n-1]
		}
	} else if n := len(s.pending); n > 0 && s.pending[n-1] == '\r' {
		s.pending = s.pending[:n-1]
	}
	b, err := s.spill(now, b, maxLineBytes)
	if err != nil {
		return err
	}
	err = s.f.record(now, s.name, tagFull, s.pending, b)
	s.pending = s.pending[:0]
	return err
}

// finish writes what is left of the current line as P records, as containerd
// does at the end of a stream, and marks the stream closed. It is called with
// the File's mutex held.
func (s *streamWriter) finish(now time.Time) error {
	if s.closed {
		return nil
	}
	s.closed = true
	rest, err := s.spill(now, nil, maxLineBytes)
	if err == nil && len(s.pending)+len(rest) > 0 {
		err = s.f.record(now, s.name, tagPartial, s.pending, rest)
	}
	s.pending = s.pending[:0]
	return err
}

// spill writes P records of maxLineBytes taken from the front of pending+b
// while pending+b is longer than limit, and returns what is left of b; what
// is left of pending stays in it.
func (s *streamWriter) spill(now time.Time, b []byte, limit int) ([]byte, error) {
	for len(s.pending)+len(b) > limit {
		if len(s.pending) >= maxLineBytes {
			if err := s.f.record(now, s.name, tagPartial, s.pending[:maxLineBytes], nil); err != nil {
				return b, err
			}
			s.pending = s.pending[:copy(s.pending, s.pending[maxLineBytes:])]
			continue
		}
		take := maxLineBytes - len(s.pending)
		if err := s.f.record(now, s.name, tagPartial, s.pending, b[:take]); err != nil {
			return b, err
		}
		s.pending = s.pending[:0]
		b = b[take:]
	}
	return b, nil
}

// Close writes what is left of the stream's current line as a P record.
// Later writes fail with an error wrapping os.ErrClosed. Close is idempotent,
// and does nothing once the File is closed.
func (s *streamWriter) Close() error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.closed || f.closed {
		return nil
	}
	err := s.finish(f.opts.Now())
	if ferr := f.flush(); err == nil {
		err = ferr
	}
	return err
}

// record adds one record with content head+tail to the file's buffer. It
// rotates the file first if it is due, so that a record always goes whole
// into one file. It is called with f.mu held.
func (f *File) record(now time.Time, stream string, tag byte, head, tail []byte) error {
	if f.rotationDue(now) {
		if err := f.flush(); err != nil {
			return err
		}
		f.rotate(now)
	}
	if len(f.buf)+recordOverhead+len(head)+len(tail) > cap(f.buf) {
		if err := f.flush(); err != nil {
			return err
		}
	}
	if !now.Equal(f.stampTime) || len(f.stamp) == 0 {
		f.stamp = now.UTC().AppendFormat(f.stamp[:0], time.RFC3339Nano)
		f.stampTime = now
	}
	f.buf = append(f.buf, f.stamp...)
	f.buf = append(f.buf, ' ')
	f.buf = append(f.buf, stream...)
	f.buf = append(f.buf, ' ', tag, ' ')
	f.buf = append(f.buf, head...)
	f.buf = append(f.buf, tail...)
	f.buf = append(f.buf, '\n')
	return nil
}

// last returns the last byte of a+b, or 0 if both are empty.
func last(a, b []byte) byte {
	if len(b) > 0 {
		return b[len(b)-1]
	}
	if len(a) > 0 {
		return a[len(a)-1]
	}
	return 0
}
