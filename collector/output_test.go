package collector

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// fileOutput does what the file sink does before it acknowledges: it
// appends the records ("<instance>\t<log>\n") to a file and syncs it.
type fileOutput struct {
	mu sync.Mutex
	f  *os.File
}

func openFileOutput(path string) (*fileOutput, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &fileOutput{f: f}, nil
}

func (o *fileOutput) Send(_ context.Context, b sinks.Batch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf := make([]byte, 0, 64*len(b.Records))
	for _, r := range b.Records {
		buf = append(buf, r.Instance...)
		buf = append(buf, '\t')
		buf = append(buf, r.Log...)
		buf = append(buf, '\n')
	}
	if _, err := o.f.Write(buf); err != nil {
		return fmt.Errorf("file output: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("file output: %w", err)
	}
	b.Ack()
	return nil
}

// memOutput keeps the records in memory and acknowledges at once.
type memOutput struct {
	mu   sync.Mutex
	recs []model.LogRecord
}

func (o *memOutput) Send(_ context.Context, b sinks.Batch) error {
	o.mu.Lock()
	o.recs = append(o.recs, b.Records...)
	o.mu.Unlock()
	b.Ack()
	return nil
}

func (o *memOutput) records() []model.LogRecord {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]model.LogRecord(nil), o.recs...)
}

// startCollector runs a collector over root until the test ends.
func startCollector(t *testing.T, root string, out sinks.Output, mutate func(*Options)) *Collector {
	t.Helper()
	opts := Options{
		Roots:          []string{root},
		StateDir:       t.TempDir(),
		Output:         out,
		RescanInterval: 200 * time.Millisecond,
		PollInterval:   50 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&opts)
	}
	c, _ := runWith(t, opts)
	return c
}
