package alerting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Integration is one configured destination with its notifier.
type Integration struct {
	Name, Type string
	Route      Route
	Notifier   notify.Notifier
	// MinInterval is the least time between two messages to it (Slack
	// allows about one per second per channel).
	MinInterval time.Duration
	// Fingerprint identifies its config; see IntegrationStatus.
	Fingerprint string
	// Retry overrides Options.Retry for this integration, field by field
	// (zero fields keep the pipeline's).
	Retry RetryPolicy
}

// Subscriber streams instance events; platform.Platform satisfies it.
type Subscriber interface {
	Subscribe(ctx context.Context) <-chan model.InstanceEvent
}

// Options configure a Pipeline.
type Options struct {
	Store        *store.DB // required
	Rules        Rules
	Integrations []Integration
	// Platform, when set, is watched for instance events.
	Platform Subscriber
	// Metrics, when set, feeds the CPU, memory and volume detectors on
	// every tick.
	Metrics MetricWindows
	// Logs, when set, gives crash and OOM events the last lines of the
	// container that ended. Each read is bounded by LastLinesTimeout
	// (default DefaultLastLinesTimeout) and happens off the event loop; an
	// event whose read fails or times out goes out without the lines.
	Logs             LastLinesReader
	LastLinesTimeout time.Duration
	// APIBase is the API's base URL, for links in events ("" for none).
	APIBase string
	// Retry is every integration's retry policy unless it has its own;
	// zero fields take DefaultRetryPolicy's.
	Retry      RetryPolicy
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// GroupWait is how long a fresh delivery to an integration that can
	// group (notify.Grouper) waits for others of the same burst; default
	// 250ms, negative turns grouping's wait off.
	GroupWait time.Duration
	// TickEvery is how often time-based detectors run; default 5s.
	TickEvery time.Duration
	// QueueSize bounds events waiting for the event loop; default 4096.
	QueueSize int
	// DeliveriesKept is how many deliveries the history keeps (pending
	// ones are always kept); default 10,000. The controller on Kubernetes
	// keeps fewer, because its whole state is copied into the API server
	// on every write.
	DeliveriesKept int
}

// Pipeline runs detectors, silences, throttling, routing, the outbox and
// the delivery workers.
//
// Lifecycle: New has no side effects; Run does the work until ctx ends or
// Close is called, and returns after every goroutine it started has ended;
// Close is idempotent. Publish, Alerts, Deliveries, Integrations and Resend
// may be called at any time.
type Pipeline struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	retry RetryPolicy

	deliveries   *store.Bucket[Delivery]
	outbox       *store.Bucket[string]
	alerts       *store.Bucket[Alert]
	throttle     *store.Bucket[time.Time]
	refs         *store.Bucket[string]
	integrations *store.Bucket[IntegrationStatus]

	detector *instanceDetector
	usage    *usageDetector
	// firing indexes the keys of the alerts firing about each instance
	// (project, service, instance), so that those of an instance that is
	// gone are resolved (see instanceGone). Owned by the event loop; nil
	// until Run reads the store.
	firing map[model.Ref]map[string]bool
	in     chan model.Event
	// withLines receives crash events once their last lines were read.
	withLines chan model.Event
	// linesWarned rate-limits the warning about failed last-lines reads.
	linesWarned struct {
		sync.Mutex
		at         time.Time
		suppressed int
	}
	workers map[string]*worker
	metrics *pipelineMetrics

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// New builds a pipeline. It checks the options and touches nothing.
func New(opts Options) (*Pipeline, error) {
	if opts.Store == nil {
		return nil, errors.New("alerting: no store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.GroupWait == 0 {
		opts.GroupWait = 250 * time.Millisecond
	}
	if opts.TickEvery <= 0 {
		opts.TickEvery = 5 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.LastLinesTimeout <= 0 {
		opts.LastLinesTimeout = DefaultLastLinesTimeout
	}
	if opts.DeliveriesKept <= 0 {
		opts.DeliveriesKept = DefaultDeliveriesKept
	}
	p := &Pipeline{
		opts:         opts,
		log:          opts.Logger.With("component", "alerting"),
		now:          opts.Now,
		retry:        opts.Retry.withDefaults(),
		deliveries:   store.NewBucket[Delivery](opts.Store, bucketDeliveries),
		outbox:       store.NewBucket[string](opts.Store, bucketOutbox),
		alerts:       store.NewBucket[Alert](opts.Store, bucketAlerts),
		throttle:     store.NewBucket[time.Time](opts.Store, bucketThrottle),
		refs:         store.NewBucket[string](opts.Store, bucketRefs),
		integrations: store.NewBucket[IntegrationStatus](opts.Store, bucketIntegrations),
		in:           make(chan model.Event, opts.QueueSize),
		withLines:    make(chan model.Event),
		workers:      map[string]*worker{},
		done:         make(chan struct{}),
	}
	for _, in := range opts.Integrations {
		if in.Name == "" || in.Notifier == nil {
			return nil, fmt.Errorf("alerting: integration %q has no name or notifier", in.Name)
		}
		if _, dup := p.workers[in.Name]; dup {
			return nil, fmt.Errorf("alerting: integration %q is defined twice", in.Name)
		}
		p.workers[in.Name] = &worker{p: p, in: in, retry: in.Retry.over(p.retry), wake: make(chan struct{}, 1)}
	}
	p.detector = newInstanceDetector(opts.Rules.CrashLoop, p.link)
	p.usage = newUsageDetector(opts.Rules.CPU, opts.Rules.Memory, opts.Rules.Volume, p.link)
	m, err := newPipelineMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p.metrics = m
	for name := range p.workers {
		m.integration(name)
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(outboxCollector{p}); err != nil {
			return nil, fmt.Errorf("alerting: register metrics: %w", err)
		}
	}
	return p, nil
}

// linkFunc gives the URL of an event's view in the web UI: view is the
// service page's tab ("logs", "metrics"), at the event's time.
type linkFunc func(ref model.Ref, view string, at time.Time) string

// link is where the web UI shows an event: the logs of its service (its
// instance, from ten minutes before the event to five after) for instance
// events, the metrics tab for usage events. "" without a base URL.
func (p *Pipeline) link(ref model.Ref, view string, at time.Time) string {
	if p.opts.APIBase == "" || ref.Project == "" || ref.Service == "" {
		return ""
	}
	q := url.Values{}
	if ref.Instance != "" {
		q.Set("instance", ref.Instance)
	}
	if view == "logs" && !at.IsZero() {
		q.Set("range", "custom")
		q.Set("from", at.Add(-10*time.Minute).UTC().Format(time.RFC3339))
		q.Set("to", at.Add(5*time.Minute).UTC().Format(time.RFC3339))
	}
	l := p.opts.APIBase + "/services/" + url.PathEscape(ref.Project) + "/" + url.PathEscape(ref.Service) + "/" + view
	if len(q) > 0 {
		l += "?" + q.Encode()
	}
	return l
}

// Publish hands a ready-made event (sink.failing, deploy.*, spend.*, …) to
// the pipeline. It never blocks: when the queue is full the event is
// dropped, logged and counted.
func (p *Pipeline) Publish(ev model.Event) {
	select {
	case p.in <- ev:
	default:
		p.metrics.dropped.Inc()
		p.log.Warn("event queue full, dropping event", "event", ev.Name, "project", ev.Project, "service", ev.Service)
	}
}

// Run processes events and delivers notifications until ctx ends or Close
// is called.
func (p *Pipeline) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("alerting: Run called twice")
	}
	p.started = true
	ctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.mu.Unlock()
	defer close(p.done)
	defer cancel()

	if err := p.syncIntegrations(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	if err := p.indexFiring(); err != nil {
		return err
	}
	var instances <-chan model.InstanceEvent
	if p.opts.Platform != nil {
		instances = p.opts.Platform.Subscribe(ctx)
	}
	tick := time.NewTicker(p.opts.TickEvery)
	defer tick.Stop()
	var lastPrune time.Time
	var reads sync.WaitGroup
	for {
		select {
		case ev := <-p.in:
			p.process(ev)
		case ev := <-p.withLines:
			p.process(ev)
		case ie, ok := <-instances:
			if !ok {
				instances = nil
				continue
			}
			for _, ev := range p.detector.Observe(ie) {
				if p.opts.Logs != nil && wantsLastLines(ev) {
					reads.Go(func() { p.addLastLines(ctx, ev, ie) })
					continue
				}
				p.process(ev)
			}
			if ie.Kind == model.InstanceStopped {
				p.instanceGone(ie.Ref, ie.Time)
			}
		case <-tick.C:
			now := p.now()
			if now.Sub(lastPrune) >= pruneEvery {
				lastPrune = now
				if err := p.prune(now, p.opts.DeliveriesKept); err != nil {
					p.log.Error("pruning alert history", "err", err)
				}
				p.sweepGone(ctx, now)
			}
			for _, ev := range p.detector.Tick(now) {
				p.process(ev)
			}
			if p.opts.Metrics != nil {
				for _, ev := range p.usage.Evaluate(p.opts.Metrics, now) {
					p.process(ev)
				}
			}
		case <-ctx.Done():
			// Whatever was published before the end still reaches the
			// outbox; crash events whose lines were being read are
			// published without them.
			reads.Wait()
		drain:
			for {
				select {
				case ev := <-p.in:
					p.process(ev)
				default:
					break drain
				}
			}
			wg.Wait()
			return nil
		}
	}
}

// addLastLines reads the last lines of the container an event is about
// and hands the event back to the event loop, with the lines or, when the
// read failed, with why there are none.
func (p *Pipeline) addLastLines(ctx context.Context, ev model.Event, ie model.InstanceEvent) {
	rctx, cancel := context.WithTimeout(ctx, p.opts.LastLinesTimeout)
	lines, err := p.opts.Logs.LastLines(rctx, ie.Ref, linesUntil(ie), lastLinesKept)
	cancel()
	switch {
	case err == nil && len(lines) > 0:
		ev.Data["lastLines"] = lines
	case err == nil:
	case ctx.Err() != nil:
	default:
		p.metrics.lastLinesFailed.Inc()
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("the log reader did not answer within %s", p.opts.LastLinesTimeout)
		}
		ev.Data["lastLinesError"] = msg
		p.warnLastLines(ie.Ref, msg)
	}
	select {
	case p.withLines <- ev:
	case <-ctx.Done():
		p.Publish(ev)
	}
}

// warnLastLines logs a failed last-lines read at most once a minute, with
// how many were not logged since (every one is counted in the metric).
func (p *Pipeline) warnLastLines(ref model.Ref, msg string) {
	p.linesWarned.Lock()
	defer p.linesWarned.Unlock()
	now := p.now()
	if now.Sub(p.linesWarned.at) < time.Minute {
		p.linesWarned.suppressed++
		return
	}
	p.log.Warn("crash event sent without the container's last lines", "project", ref.Project, "service", ref.Service,
		"instance", ref.Instance, "err", msg, "not_logged_since_last", p.linesWarned.suppressed)
	p.linesWarned.at, p.linesWarned.suppressed = now, 0
}

// Close stops a running Run and waits for it. It is idempotent.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	cancel, started := p.cancel, p.started
	p.mu.Unlock()
	if !started {
		return nil
	}
	cancel()
	<-p.done
	return nil
}

// process takes one event through silences, throttle and routing into the
// outbox, in one store transaction.
func (p *Pipeline) process(ev model.Event) {
	now := p.now()
	if ev.ID == "" {
		ev.ID = newID("evt_")
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if ev.Status == "" {
		ev.Status = model.StatusFiring
	}
	p.metrics.received.WithLabelValues(ev.Name).Inc()
	if silenced(p.opts.Rules.Silences, ev, now) {
		p.metrics.events.WithLabelValues(outcomeSilenced).Inc()
		return
	}
	key := alertKey(ev)
	window := p.opts.Rules.ThrottleFor(ev.Name)
	var woken []*worker
	outcome := outcomeThrottled
	stored := ""
	err := p.opts.Store.Update(func(tx *store.Tx) error {
		woken, stored = woken[:0], ""
		if ev.Name == model.EventSinkRecovered {
			if err := p.resolveQuietly(tx, model.EventSinkFailing+"|"+resourceOf(ev), now); err != nil {
				return err
			}
		}
		alert, had, err := p.alerts.GetTx(tx, key)
		if err != nil {
			return err
		}
		send := false
		if ev.Status == model.StatusResolved {
			if !had || alert.Status == model.StatusResolved {
				outcome = outcomeNoAlert
				return nil
			}
			send = alert.Notified
			alert.Status, alert.Updated, alert.Notified, alert.Summary = model.StatusResolved, now, false, ev.Summary
		} else {
			last, _, err := p.throttle.GetTx(tx, key)
			if err != nil {
				return err
			}
			switch {
			case throttleAllows(last, window, now):
				send = true
				if err := p.throttle.PutTx(tx, key, now); err != nil {
					return err
				}
			case last.After(now):
				// The clock stepped back: the window counts from now, so
				// it ends one window from the step, not when the clock
				// catches up with the last notification.
				if err := p.throttle.PutTx(tx, key, now); err != nil {
					return err
				}
			}
			if !had || alert.Status == model.StatusResolved {
				alert = Alert{ID: ev.ID, Event: ev.Name, Project: ev.Project, Service: ev.Service, Instance: ev.Instance, Since: ev.Time, Key: key}
			}
			alert.Status, alert.Updated, alert.Summary, alert.Severity = model.StatusFiring, now, ev.Summary, string(ev.Severity)
			alert.Notified = alert.Notified || send
		}
		if err := p.alerts.PutTx(tx, key, alert); err != nil {
			return err
		}
		stored = alert.Status
		if !send {
			return nil
		}
		outcome = outcomeRouted
		for _, name := range p.workerNames() {
			w := p.workers[name]
			if !w.in.Route.Matches(ev) {
				continue
			}
			if err := p.enqueueTx(tx, name, key, ev, now, ""); err != nil {
				return err
			}
			woken = append(woken, w)
		}
		if len(woken) == 0 {
			outcome = outcomeUnrouted
		}
		return nil
	})
	if err != nil {
		p.metrics.events.WithLabelValues(outcomeError).Inc()
		p.log.Error("recording event", "event", ev.Name, "err", err)
		return
	}
	p.track(ev, key, stored)
	p.metrics.events.WithLabelValues(outcome).Inc()
	for _, w := range woken {
		w.poke()
	}
}

// resolveQuietly marks an alert resolved without notifying (its own
// recovery event is the notification).
func (p *Pipeline) resolveQuietly(tx *store.Tx, key string, now time.Time) error {
	a, ok, err := p.alerts.GetTx(tx, key)
	if err != nil || !ok || a.Status == model.StatusResolved {
		return err
	}
	a.Status, a.Updated, a.Notified = model.StatusResolved, now, false
	return p.alerts.PutTx(tx, key, a)
}

func (p *Pipeline) enqueueTx(tx *store.Tx, integration, key string, ev model.Event, now time.Time, resendOf string) error {
	seq, err := p.nextSeqTx(tx)
	if err != nil {
		return err
	}
	d := Delivery{
		ID: fmt.Sprintf("dlv_%012d", seq), Integration: integration, Event: ev.Name, State: DeliveryPending,
		Time: now, Status: ev.Status, AlertKey: key, Created: now, Payload: ev, ResendOf: resendOf,
	}
	if err := p.deliveries.PutTx(tx, d.ID, d); err != nil {
		return err
	}
	return p.outbox.PutTx(tx, outboxKey(integration, d.ID), d.ID)
}

// nextSeqTx numbers deliveries; the counter is a value in the outbox
// bucket's sibling so that it commits with the delivery.
func (p *Pipeline) nextSeqTx(tx *store.Tx) (uint64, error) {
	counter := store.NewBucket[uint64](p.opts.Store, "alerting.sequence")
	n, _, err := counter.GetTx(tx, "deliveries")
	if err != nil {
		return 0, err
	}
	n++
	return n, counter.PutTx(tx, "deliveries", n)
}

func (p *Pipeline) workerNames() []string {
	names := make([]string, 0, len(p.workers))
	for n := range p.workers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// syncIntegrations records every configured integration, re-enabling those
// whose config changed since they were disabled.
func (p *Pipeline) syncIntegrations() error {
	return p.opts.Store.Update(func(tx *store.Tx) error {
		for _, name := range p.workerNames() {
			in := p.workers[name].in
			st, ok, err := p.integrations.GetTx(tx, name)
			if err != nil {
				return err
			}
			if !ok || st.Fingerprint != in.Fingerprint || st.Type != in.Type {
				st = IntegrationStatus{Name: name, Type: in.Type, State: IntegrationActive, Fingerprint: in.Fingerprint}
			}
			if err := p.integrations.PutTx(tx, name, st); err != nil {
				return err
			}
			p.metrics.disabled.WithLabelValues(name).Set(boolGauge(st.State == IntegrationDisabled))
		}
		return nil
	})
}

// Alerts lists alerts, firing ones first, then by most recent change.
func (p *Pipeline) Alerts() ([]Alert, error) {
	entries, err := p.alerts.List()
	if err != nil {
		return nil, fmt.Errorf("alerting: list alerts: %w", err)
	}
	out := make([]Alert, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Value)
	}
	sort.SliceStable(out, func(i, j int) bool {
		fi, fj := out[i].Status == model.StatusFiring, out[j].Status == model.StatusFiring
		if fi != fj {
			return fi
		}
		return out[i].Updated.After(out[j].Updated)
	})
	return out, nil
}

// Deliveries lists deliveries, newest first.
func (p *Pipeline) Deliveries() ([]Delivery, error) {
	entries, err := p.deliveries.List()
	if err != nil {
		return nil, fmt.Errorf("alerting: list deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Value)
	}
	return out, nil
}

// Integrations lists the configured integrations and their state.
func (p *Pipeline) Integrations() ([]IntegrationStatus, error) {
	var out []IntegrationStatus
	for _, name := range p.workerNames() {
		st, ok, err := p.integrations.Get(name)
		if err != nil {
			return nil, fmt.Errorf("alerting: integration %q: %w", name, err)
		}
		if !ok {
			in := p.workers[name].in
			st = IntegrationStatus{Name: name, Type: in.Type, State: IntegrationActive}
		}
		out = append(out, st)
	}
	return out, nil
}

// ErrUnknownDelivery is wrapped by Resend for an id it does not know.
var ErrUnknownDelivery = errors.New("no such delivery")

// Resend queues the event of delivery id again for the same integration, as
// a new delivery with its own idempotency key (the receiver is meant to see
// it again). A disabled integration is enabled again: resending is how a
// user says the destination is fixed.
func (p *Pipeline) Resend(id string) (Delivery, error) {
	var out Delivery
	w := (*worker)(nil)
	err := p.opts.Store.Update(func(tx *store.Tx) error {
		d, ok, err := p.deliveries.GetTx(tx, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("delivery %q: %w", id, ErrUnknownDelivery)
		}
		w = p.workers[d.Integration]
		if w == nil {
			return fmt.Errorf("delivery %q: integration %q is no longer configured", id, d.Integration)
		}
		st, ok, err := p.integrations.GetTx(tx, d.Integration)
		if err != nil {
			return err
		}
		if ok && st.State == IntegrationDisabled {
			st.State, st.Reason, st.Since, st.Failures = IntegrationActive, "", p.now(), 0
			if err := p.integrations.PutTx(tx, d.Integration, st); err != nil {
				return err
			}
			p.metrics.disabled.WithLabelValues(d.Integration).Set(0)
		}
		if err := p.enqueueTx(tx, d.Integration, d.AlertKey, d.Payload, p.now(), d.ID); err != nil {
			return err
		}
		n, _, err := store.NewBucket[uint64](p.opts.Store, "alerting.sequence").GetTx(tx, "deliveries")
		if err != nil {
			return err
		}
		out, _, err = p.deliveries.GetTx(tx, fmt.Sprintf("dlv_%012d", n))
		return err
	})
	if err != nil {
		return Delivery{}, err
	}
	w.poke()
	return out, nil
}

func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
