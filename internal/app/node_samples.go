package app

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// maxHeldSamples bounds the samples a collector holds for the controller:
// about 128 bytes each, so at most 25 MiB; a node of 100 pods with two
// containers each records some 4,000 samples a scrape, which makes 12
// minutes of them.
const maxHeldSamples = 200_000

// sampleLog holds what the node's scraper recorded, for GET
// /api/v1/node/samples: batches stamped with the time they were recorded
// (strictly increasing, so that a cursor never skips or repeats a batch),
// the oldest dropped beyond the retention or the sample bound.
type sampleLog struct {
	node      string
	retention time.Duration
	max       int
	now       func() time.Time

	mu      sync.Mutex
	batches []sampleBatch
	held    int
}

type sampleBatch struct {
	at      time.Time
	samples []model.Sample
}

func newSampleLog(node string, retention time.Duration, max int, now func() time.Time) *sampleLog {
	return &sampleLog{node: node, retention: retention, max: max, now: now}
}

// add records one scrape's samples. It is the scraper's OnSamples hook and
// does not block.
func (l *sampleLog) add(samples []model.Sample) {
	if len(samples) == 0 {
		return
	}
	at := l.now().UTC().Round(0)
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.batches); n > 0 && !at.After(l.batches[n-1].at) {
		at = l.batches[n-1].at.Add(time.Nanosecond)
	}
	l.batches = append(l.batches, sampleBatch{at: at, samples: slices.Clone(samples)})
	l.held += len(samples)
	cutoff := at.Add(-l.retention)
	drop := 0
	for drop < len(l.batches)-1 && (l.held > l.max || l.batches[drop].at.Before(cutoff)) {
		l.held -= len(l.batches[drop].samples)
		drop++
	}
	if drop > 0 {
		clear(l.batches[:drop])
		l.batches = slices.Delete(l.batches, 0, drop)
	}
}

// SamplesSince returns the samples recorded after since, and the time the
// last of them was recorded (since itself when there is none).
func (l *sampleLog) SamplesSince(since time.Time) (string, []model.Sample, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.batches), func(i int) bool { return l.batches[i].at.After(since) })
	if i == len(l.batches) {
		return l.node, nil, since
	}
	n := 0
	for _, b := range l.batches[i:] {
		n += len(b.samples)
	}
	out := make([]model.Sample, 0, n)
	for _, b := range l.batches[i:] {
		out = append(out, b.samples...)
	}
	return l.node, out, l.batches[len(l.batches)-1].at
}
