package collector

import (
	"strings"
	"time"

	"github.com/opshub/opshub/model"
)

// batchBuilder collects the lines of one batch. Their text goes into one
// buffer that becomes, without a copy, the string every record's Log points
// into, so a batch costs a few allocations however many lines it has, and
// its text is written once.
type batchBuilder struct {
	text strings.Builder
	hint int
	recs []pendingRecord
}

type pendingRecord struct {
	time       time.Time
	stream     string
	start, end int
	truncated  bool
	replaced   bool
}

// reset starts a batch whose text is expected to be about hint bytes: the
// bytes waiting in the file, at most a batch. The text buffer is new for
// every batch (the last one's is the records' strings now); it is allocated
// with the first line, so a file with nothing to read costs nothing.
func (b *batchBuilder) reset(hint int) {
	b.text = strings.Builder{}
	b.hint = max(hint, 4<<10)
	b.recs = b.recs[:0]
}

// batchHint estimates the text of the next batch of a file with waiting
// bytes to read, whose last batch had textPerLine bytes of text per line
// (0: none yet). A batch of short lines ends at maxLines first; one of long
// lines may pass maxBytes by its last line.
func batchHint(waiting int64, maxBytes, maxLines int, textPerLine int64) int {
	last := int64(4 << 10)
	if textPerLine > 0 {
		last = 2*textPerLine + 64
	}
	hint := min(waiting, int64(maxBytes)+last)
	if textPerLine > 0 {
		hint = min(hint, int64(maxLines)*(textPerLine+textPerLine/16+1))
	}
	return int(hint)
}

func (b *batchBuilder) lines() int { return len(b.recs) }
func (b *batchBuilder) size() int  { return b.text.Len() }

func (b *batchBuilder) add(l *line) {
	if b.text.Cap() == 0 {
		b.text.Grow(b.hint)
	}
	start := b.text.Len()
	replaced := writeText(&b.text, l)
	b.recs = append(b.recs, pendingRecord{time: l.time, stream: l.stream, start: start, end: b.text.Len(), truncated: l.dropped > 0, replaced: replaced})
}

// build returns the records, enriched with ref and labels, and how many had
// invalid UTF-8 replaced. The batch must be reset before it is filled again.
func (b *batchBuilder) build(ref model.Ref, labels model.Labels) ([]model.LogRecord, int) {
	text := b.text.String()
	if unused := b.text.Cap() - len(text); unused > 64<<10 && unused > len(text)/4 {
		// The hint was far too big (lines shorter than their file bytes
		// suggested, or a batch cut short): do not keep the slack alive
		// until the sinks acknowledge.
		text = strings.Clone(text)
	}
	out := make([]model.LogRecord, len(b.recs))
	invalid := 0
	for i, p := range b.recs {
		out[i] = model.LogRecord{Time: p.time, Ref: ref, Stream: p.stream, Log: text[p.start:p.end], Labels: labels, Truncated: p.truncated}
		if p.replaced {
			invalid++
		}
	}
	b.text = strings.Builder{}
	return out, invalid
}
