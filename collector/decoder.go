package collector

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// format is the record format of one file, detected from its first line.
type format uint8

const (
	formatUnknown format = iota
	formatCRI
	formatDocker
)

func (f format) String() string {
	switch f {
	case formatCRI:
		return "cri"
	case formatDocker:
		return "docker"
	}
	return "unknown"
}

// line is one logical log line, ready to be turned into a record. content
// is only valid during the emit call.
type line struct {
	time    time.Time
	stream  string
	content []byte
	// dropped counts bytes cut because the line was longer than
	// maxLineBytes; the emitted text then ends with a truncation marker.
	dropped int
	// malformed is set for a line that did not parse, passed on raw.
	malformed bool
}

// decoderStats counts what a decoder met. The collector adds them to its
// metrics; a query ignores them.
type decoderStats struct {
	truncated   int64
	parseErrors int64
}

// decoder turns the physical lines of one file into logical lines: it
// parses CRI or Docker json-file records, merges partial records (up to
// maxLine bytes, dropping and counting the rest), and passes lines that do
// not parse on raw. It allocates only when a line needs more room than
// any before it.
type decoder struct {
	format  format
	maxLine int
	now     func() time.Time
	emit    func(*line)
	stats   decoderStats

	// phys collects a physical line longer than the reader's buffer.
	phys        []byte
	physDropped int
	inPhys      bool

	// merge collects the partial records of one logical line.
	merge        []byte
	mergeDropped int
	merging      bool
	mergeTime    time.Time
	mergeStream  string

	scratch []byte // unescaped Docker "log" values
	times   timeCache
	out     line
}

func newDecoder(maxLine int, now func() time.Time, emit func(*line)) *decoder {
	return &decoder{maxLine: maxLine, now: now, emit: emit}
}

// pending reports whether the decoder holds the start of a line whose end it
// has not seen: the file offset after the last whole line is where reading
// must resume after a restart.
func (d *decoder) pending() bool { return d.merging || d.inPhys }

// feed takes one physical line (without "\n"), or a piece of one when more
// is true.
func (d *decoder) feed(b []byte, more bool) {
	if more || d.inPhys {
		// Keep enough of the physical line for its header and maxLine bytes
		// of content; the header is at most a few dozen bytes, but a Docker
		// record escapes its content, so leave room for that too.
		limit := 2*d.maxLine + 256
		room := max(0, limit-len(d.phys))
		take := min(room, len(b))
		d.phys = append(d.phys, b[:take]...)
		d.physDropped += len(b) - take
		d.inPhys = more
		if more {
			return
		}
		b, dropped := d.phys, d.physDropped
		d.phys, d.physDropped = d.phys[:0], 0
		d.decode(b, dropped)
		return
	}
	d.decode(b, 0)
}

// decode handles one whole physical line, of which dropped bytes were cut.
func (d *decoder) decode(b []byte, dropped int) {
	if d.format == formatUnknown {
		d.format = formatCRI
		if len(b) > 0 && b[0] == '{' {
			d.format = formatDocker
		}
	}
	var (
		t       time.Time
		stream  string
		partial bool
		content []byte
		ok      bool
	)
	switch d.format {
	case formatCRI:
		var r criRecord
		r, ok = parseCRI(b, &d.times)
		t, stream, partial, content = r.time, r.stream, r.partial, r.content
	case formatDocker:
		var r dockerRecord
		r, d.scratch, ok = parseDockerJSON(b, d.scratch, &d.times)
		t, stream, partial, content = r.time, r.stream, r.partial, r.content
	}
	if !ok {
		d.stats.parseErrors++
		d.flush()
		d.send(line{time: d.now(), stream: streamStdout, content: b, dropped: dropped, malformed: true})
		return
	}
	if !d.merging && !partial {
		d.send(line{time: t, stream: stream, content: content, dropped: dropped})
		return
	}
	if !d.merging {
		d.merging, d.mergeTime, d.mergeStream = true, t, stream
	} else if stream != d.mergeStream {
		// A partial line of the other stream never continues this one.
		d.flush()
		d.merging, d.mergeTime, d.mergeStream = true, t, stream
	}
	room := max(0, d.maxLine-len(d.merge))
	take := min(room, len(content))
	d.merge = append(d.merge, content[:take]...)
	d.mergeDropped += len(content) - take + dropped
	if !partial {
		d.flush()
	}
}

// flush emits the partial line being merged, if any: at its final record,
// or when the file ends without one.
func (d *decoder) flush() {
	if !d.merging {
		return
	}
	d.send(line{time: d.mergeTime, stream: d.mergeStream, content: d.merge, dropped: d.mergeDropped})
	d.merge, d.mergeDropped, d.merging = d.merge[:0], 0, false
	// Do not keep a buffer grown by one huge line.
	if cap(d.merge) > 64<<10 {
		d.merge = nil
	}
}

// send applies the length limit and emits l.
func (d *decoder) send(l line) {
	if len(l.content) > d.maxLine {
		l.dropped += len(l.content) - d.maxLine
		l.content = l.content[:d.maxLine]
	}
	if l.dropped > 0 {
		d.stats.truncated++
	}
	d.out = l
	d.emit(&d.out)
}

// truncationMarker is appended to a line that was cut at maxLineBytes.
const truncationMarker = " [truncated "

// writeText writes the text of l to w as valid UTF-8: invalid bytes are
// replaced by U+FFFD (what JSON encoders would do anyway, done once here so
// every sink sees the same text), and a cut line ends with
// " [truncated N bytes]". It reports whether bytes were replaced.
func writeText(w *strings.Builder, l *line) bool {
	replaced := false
	if utf8.Valid(l.content) {
		w.Write(l.content)
	} else {
		replaced = true
		c := l.content
		for len(c) > 0 {
			r, n := utf8.DecodeRune(c)
			if r == utf8.RuneError && n == 1 {
				w.WriteString("\uFFFD")
			} else {
				w.Write(c[:n])
			}
			c = c[n:]
		}
	}
	if l.dropped > 0 {
		var num [20]byte
		w.WriteString(truncationMarker)
		w.Write(strconv.AppendInt(num[:0], int64(l.dropped), 10))
		w.WriteString(" bytes]")
	}
	return replaced
}
