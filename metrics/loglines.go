package metrics

import (
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// LineCounter counts the log lines the collector read per container
// between two scrapes. The Scraper takes the counts at each scrape and
// turns them into the log-lines type: lines/s in the store, and
// opshub_container_log_lines_total on /metrics, named like the container's
// other series so that it leaves with them. Add may be called from any
// goroutine and never blocks for long.
type LineCounter struct {
	mu     sync.Mutex
	counts map[model.Ref]uint64
}

// NewLineCounter returns an empty counter.
func NewLineCounter() *LineCounter { return &LineCounter{counts: map[model.Ref]uint64{}} }

// Add counts n lines of the container ref.
func (c *LineCounter) Add(ref model.Ref, n int) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.counts[ref] += uint64(n)
	c.mu.Unlock()
}

// take returns the counts since the last take and starts afresh.
func (c *LineCounter) take() map[model.Ref]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = make(map[model.Ref]uint64, len(out))
	return out
}

// lineSamples turns the counts since the last scrape into samples and
// increases for the live containers: every live container gets an increase
// (0 when it logged nothing), so its counter starts at 0, and a lines/s
// sample once a previous scrape gives the elapsed time (readings of a
// service's volumes, without a container, get neither). Lines of a
// container that is no longer live are dropped with it.
func lineSamples(counts map[model.Ref]uint64, live map[model.Ref]bool, now, last time.Time) ([]model.Sample, []Increase) {
	var samples []model.Sample
	var incs []Increase
	elapsed := now.Sub(last).Seconds()
	for ref := range live {
		if ref.Container == "" {
			continue // a service's volumes, not a container
		}
		n := float64(counts[ref])
		incs = append(incs, Increase{Ref: ref, Type: model.MetricLogLines, Delta: n})
		if !last.IsZero() && elapsed > 0 {
			samples = append(samples, model.Sample{Ref: ref, Type: model.MetricLogLines, Time: now, Value: n / elapsed})
		}
	}
	return samples, incs
}
