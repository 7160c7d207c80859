package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
)

// filler pads numbered lines to --log-size. It is fixed text so that line
// content is reproducible and compresses like ordinary logs do.
const filler = "the quick brown fox jumps over the lazy dog "

// maxBatchBytes bounds one write of numbered lines, so that memory stays
// small and other writers get a turn even at 10 000 lines per second.
const maxBatchBytes = 256 << 10

// A stream is one of the process's output streams. Every line the demo
// prints goes through one, so lines never interleave; it numbers the
// generated lines (seq=1, 2, … per stream) and counts every line written.
type stream struct {
	name     string // "stdout" or "stderr", also the stream= field of lines
	instance string

	mu  sync.Mutex
	w   io.Writer
	seq uint64 // last sequence number written
	buf []byte

	lines atomic.Uint64 // lines written, of any kind
}

func newStream(name, instance string, w io.Writer) *stream {
	return &stream{name: name, instance: instance, w: w}
}

// printf writes one informational line.
func (s *stream) printf(format string, args ...any) {
	s.text(fmt.Sprintf(format, args...))
}

// text writes text as it is, adding the final newline if it has none.
func (s *stream) text(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append(s.buf[:0], text...)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	s.buf = b
	s.write(b)
	s.trim()
}

// trim drops a buffer grown by one huge line, rather than keep it forever.
// The caller holds s.mu.
func (s *stream) trim() {
	if cap(s.buf) > 4*maxBatchBytes {
		s.buf = nil
	}
}

// Write writes p as text, so that a stream can back a log.Logger.
func (s *stream) Write(p []byte) (int, error) {
	s.text(string(p))
	return len(p), nil
}

// emit writes n numbered lines of size bytes each (see appendLine).
func (s *stream) emit(n, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n > 0 {
		b := s.buf[:0]
		for ; n > 0 && len(b) < maxBatchBytes; n-- {
			s.seq++
			b = appendLine(b, s.seq, s.instance, s.name, size)
		}
		s.buf = b
		s.write(b)
	}
	s.trim()
}

// write writes whole lines; the caller holds s.mu. Lines that fail to
// write are not counted; there is nowhere to report the failure to.
func (s *stream) write(b []byte) {
	if _, err := s.w.Write(b); err == nil {
		s.lines.Add(uint64(bytes.Count(b, []byte{'\n'})))
	}
}

// appendLine appends "seq=<seq> instance=<instance> stream=<stream>",
// padded with filler to size bytes when that is longer, and a newline.
func appendLine(dst []byte, seq uint64, instance, stream string, size int64) []byte {
	start := len(dst)
	dst = append(dst, "seq="...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, " instance="...)
	dst = append(dst, instance...)
	dst = append(dst, " stream="...)
	dst = append(dst, stream...)
	if pad := size - int64(len(dst)-start); pad > 0 {
		dst = append(dst, ' ')
		for pad--; pad > 0; {
			n := min(pad, int64(len(filler)))
			dst = append(dst, filler[:n]...)
			pad -= n
		}
	}
	return append(dst, '\n')
}

// pace writes numbered lines at the rate rateOf picks from the knobs until
// ctx ends, following changes to the rate and to the line size.
func (s *stream) pace(ctx context.Context, k *knobs, rateOf func(settings) float64) {
	paced(ctx, k, rateOf, tickFor, func(n int64, set settings) { s.emit(n, set.logSize) })
}
