package spend

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Observer reports what runs now: containers with their requests and usage,
// and volumes with their capacity.
type Observer interface {
	Observe(ctx context.Context, now time.Time) ([]Container, []Volume, error)
}

// MeterOptions configure a Meter.
type MeterOptions struct {
	Ledger     *Ledger
	Observer   Observer
	Currency   string
	Thresholds []Threshold
	// DB keeps the alert marks across restarts; nil keeps them in memory.
	DB *store.DB
	// Publish receives spend.threshold and spend.forecast events.
	Publish func(model.Event)
	// Interval between ticks; default 15 s. A tick charges only whole
	// minutes since the last one, so ticking more often than once a minute
	// costs nothing extra and shows spend sooner.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Meter ticks the ledger and evaluates the billing alerts.
type Meter struct {
	opts   MeterOptions
	log    *slog.Logger
	alerts *store.Bucket[AlertState]

	mu    sync.Mutex // guards the ledger and st
	state AlertState
	// compacted is when the ledger's retention was last applied (Compact); it is
	// looked at once an hour.
	compacted time.Time
}

// NewMeter returns a meter; it starts nothing.
func NewMeter(opts MeterOptions) (*Meter, error) {
	if opts.Ledger == nil || opts.Observer == nil {
		return nil, fmt.Errorf("spend: a ledger and an observer are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Meter{opts: opts, log: opts.Logger.With("component", "spend")}
	if opts.DB != nil {
		m.alerts = store.NewBucket[AlertState](opts.DB, "spend-alerts")
	}
	return m, nil
}

// Run ticks every interval until ctx ends.
func (m *Meter) Run(ctx context.Context) error {
	if m.alerts != nil {
		st, _, err := m.alerts.Get("state")
		if err != nil {
			return fmt.Errorf("spend: load alert marks: %w", err)
		}
		m.mu.Lock()
		m.state = st
		m.mu.Unlock()
	}
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		m.Tick(ctx)
		select {
		case <-ctx.Done():
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.opts.Ledger.Flush(); err != nil {
				m.log.Warn("cannot write the instances' spend totals of the last hour", "err", err)
			}
			return nil
		case <-t.C:
		}
	}
}

// Tick observes, charges the ledger, and sends the alerts that are due.
func (m *Meter) Tick(ctx context.Context) {
	now := m.opts.Now()
	containers, volumes, err := m.opts.Observer.Observe(ctx, now)
	if err != nil {
		m.log.Warn("cannot observe what runs; the minutes are charged at the next tick", "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.opts.Ledger.Tick(now, containers, volumes); err != nil {
		m.log.Warn("cannot charge the ledger", "err", err)
		return
	}
	if now.Sub(m.compacted) >= time.Hour {
		if n, err := m.opts.Ledger.Compact(now); err != nil {
			m.log.Warn("cannot apply the ledger's retention; trying again in an hour", "err", err)
		} else if n > 0 {
			m.log.Info("applied the ledger's retention: old hours rolled up into days per service, months past it dropped", "records", n)
		}
		m.compacted = now
	}
	st := m.state
	st.Sent = maps.Clone(m.state.Sent)
	events := m.opts.Ledger.Alerts(now, m.opts.Currency, m.opts.Thresholds, &st)
	if len(events) == 0 {
		return
	}
	// The marks are saved before the events go out: a crash in between
	// loses an alert rather than sending it twice.
	if m.alerts != nil {
		if err := m.alerts.Put("state", st); err != nil {
			m.log.Warn("cannot save spend alert marks; alerts held back until it works", "err", err)
			return
		}
	}
	m.state = st
	for _, e := range events {
		m.log.Info("spend alert", "event", e.Name, "summary", e.Summary)
		if m.opts.Publish != nil {
			m.opts.Publish(e)
		}
	}
}

// Report is Ledger.Report at the meter's now, safe while the meter runs.
func (m *Meter) Report(from, to time.Time, by []string) Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opts.Ledger.Report(m.opts.Now(), from, to, by)
}

// Month returns the current billing month.
func (m *Meter) Month() (time.Time, time.Time) {
	return m.opts.Ledger.Month(m.opts.Now())
}

// Currency is the configured currency.
func (m *Meter) Currency() string { return m.opts.Currency }
