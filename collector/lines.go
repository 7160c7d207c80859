package collector

import (
	"bytes"
	"io"
)

// lineReader splits what it reads into lines with block reads and no
// per-line allocation. Lines longer than its buffer come out in pieces.
type lineReader struct {
	r     io.Reader
	buf   []byte
	start int   // first unreturned byte in buf
	end   int   // end of the data in buf
	off   int64 // offset in the input of buf[start]
	read  int64 // bytes read from r, for metrics
}

func newLineReader(r io.Reader, buf []byte, off int64) *lineReader {
	return &lineReader{r: r, buf: buf, off: off}
}

// next returns the next line without its "\n", and the input offset just
// past it. more is true when the buffer filled without a newline: line is a
// piece of a longer line, and the rest follows. ok is false when no whole
// line (or full piece) is available yet; err is the read error that stopped
// it (io.EOF at the end of the input so far). The returned bytes are valid
// until the next call.
func (lr *lineReader) next() (line []byte, more bool, ok bool, err error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			line = lr.buf[lr.start : lr.start+i]
			lr.start += i + 1
			lr.off += int64(i + 1)
			return line, false, true, nil
		}
		if lr.start == 0 && lr.end == len(lr.buf) {
			line = lr.buf[:lr.end]
			lr.off += int64(lr.end)
			lr.start, lr.end = 0, 0
			return line, true, true, nil
		}
		if lr.start > 0 {
			lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
			lr.start = 0
		}
		n, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += n
		lr.read += int64(n)
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return nil, false, false, err
		}
	}
}

// buffered reports how many bytes were read but not yet returned: the start
// of a line whose end has not been written yet.
func (lr *lineReader) buffered() int { return lr.end - lr.start }

// reset drops buffered bytes and sets the offset (after a seek).
func (lr *lineReader) reset(off int64) {
	lr.start, lr.end, lr.off = 0, 0, off
}
