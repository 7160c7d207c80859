package collector

import (
	"time"

	"github.com/opshub/opshub/model"
)

// batchBuilder collects the lines of one batch. Their text goes into one
// arena that becomes a single string when the batch is built, so a batch
// costs a few allocations however many lines it has.
type batchBuilder struct {
	arena []byte
	recs  []pendingRecord
}

type pendingRecord struct {
	time       time.Time
	stream     string
	start, end int
	truncated  bool
	replaced   bool
}

func (b *batchBuilder) reset() {
	b.arena = b.arena[:0]
	b.recs = b.recs[:0]
}

func (b *batchBuilder) lines() int { return len(b.recs) }
func (b *batchBuilder) size() int  { return len(b.arena) }

func (b *batchBuilder) add(l *line) {
	start := len(b.arena)
	var replaced bool
	b.arena, replaced = appendText(b.arena, l)
	b.recs = append(b.recs, pendingRecord{time: l.time, stream: l.stream, start: start, end: len(b.arena), truncated: l.dropped > 0, replaced: replaced})
}

// build returns the records, enriched with ref and labels, and how many had
// invalid UTF-8 replaced.
func (b *batchBuilder) build(ref model.Ref, labels model.Labels) ([]model.LogRecord, int) {
	text := string(b.arena)
	out := make([]model.LogRecord, len(b.recs))
	invalid := 0
	for i, p := range b.recs {
		out[i] = model.LogRecord{Time: p.time, Ref: ref, Stream: p.stream, Log: text[p.start:p.end], Labels: labels, Truncated: p.truncated}
		if p.replaced {
			invalid++
		}
	}
	// Do not keep an arena grown by one huge batch.
	if cap(b.arena) > 4<<20 {
		b.arena = nil
	}
	return out, invalid
}
