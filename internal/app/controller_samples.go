package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/server"
)

// collectorLister lists the live collectors; *kubernetes.CollectorWatch
// satisfies it.
type collectorLister interface {
	Live() []kubernetes.CollectorEndpoint
}

// samplePuller feeds the controller's metrics store from the collectors: it
// asks every live collector for the samples its node recorded since the
// last answer (GET /api/v1/node/samples?since=…), every interval.
type samplePuller struct {
	collectors collectorLister
	store      *metrics.Store
	node       server.NodeClient
	interval   time.Duration
	onSamples  func([]model.Sample)
	// services, when set, gives every instance's restart count, which
	// the kubelet's cAdvisor does not report: the puller records it as
	// the restarts series next to the collectors' samples.
	services serviceLister
	log      *slog.Logger
	now      func() time.Time

	pulls *prometheus.CounterVec

	mu    sync.Mutex
	since map[string]time.Time // by node: the cursor the collector gave last
}

func newSamplePuller(collectors collectorLister, store *metrics.Store, token func() (string, error), interval time.Duration, onSamples func([]model.Sample), reg prometheus.Registerer, log *slog.Logger) (*samplePuller, error) {
	p := &samplePuller{
		collectors: collectors, store: store, node: server.NodeClient{Token: token},
		interval: interval, onSamples: onSamples, log: log.With("component", "collector-samples"), now: time.Now,
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_controller_sample_pulls_total",
			Help: "Requests for node samples sent to collectors, by result (ok or error).",
		}, []string{"result"}),
		since: map[string]time.Time{},
	}
	if reg != nil {
		if err := reg.Register(p.pulls); err != nil {
			return nil, fmt.Errorf("register sample pull metrics: %w", err)
		}
	}
	return p, nil
}

// Run pulls at once and then every interval until ctx ends.
func (p *samplePuller) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.Pull(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pullsInFlight bounds the collectors asked at once. A new leader's first
// pull asks each for everything it holds (an hour: about 6 MB of samples
// for a node of 10 pods), so asking 1,000 nodes at once would hold
// gigabytes of answers.
const pullsInFlight = 16

// Pull asks every live collector once, at most pullsInFlight at a time,
// and stores each answer as it comes. A collector that fails is asked again
// from the same cursor next time, so its samples are not lost while it
// holds them.
func (p *samplePuller) Pull(ctx context.Context) {
	var (
		wg      sync.WaitGroup
		forward sync.Mutex // onSamples is called by one goroutine at a time
		slots   = make(chan struct{}, pullsInFlight)
	)
	for _, c := range p.collectors.Live() {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			p.mu.Lock()
			since := p.since[c.Node]
			p.mu.Unlock()
			samples, next, err := p.pull(ctx, c, since)
			if err != nil {
				p.pulls.WithLabelValues("error").Inc()
				if ctx.Err() == nil {
					p.log.Warn("pulling node samples failed", "node", c.Node, "url", c.URL, "err", err)
				}
				return
			}
			p.pulls.WithLabelValues("ok").Inc()
			p.keep(samples, &forward)
			p.mu.Lock()
			p.since[c.Node] = next
			p.mu.Unlock()
		})
	}
	wg.Wait()
	p.keep(p.restarts(ctx), &forward)
	p.store.Prune(p.now())
}

// keep adds samples to the store and hands them to the sample sinks.
func (p *samplePuller) keep(samples []model.Sample, forward *sync.Mutex) {
	if len(samples) == 0 {
		return
	}
	p.store.Add(samples...)
	if p.onSamples != nil {
		forward.Lock()
		p.onSamples(samples)
		forward.Unlock()
	}
}

// restarts samples every instance's restart count from the platform, for
// the instances that have started (a pending pod has no series yet).
func (p *samplePuller) restarts(ctx context.Context) []model.Sample {
	if p.services == nil {
		return nil
	}
	svcs, err := p.services.Services(ctx)
	if err != nil {
		return nil
	}
	now := p.now()
	var out []model.Sample
	for _, svc := range svcs {
		for _, in := range svc.Instances {
			if in.Status == model.StatusStaging {
				continue
			}
			out = append(out, model.Sample{
				Ref:  model.Ref{Project: svc.Project, Service: svc.Name, Instance: in.Name, Container: in.Container},
				Type: model.MetricRestarts, Time: now, Value: float64(in.Restarts),
			})
		}
	}
	return out
}

func (p *samplePuller) pull(ctx context.Context, c kubernetes.CollectorEndpoint, since time.Time) ([]model.Sample, time.Time, error) {
	return p.node.Samples(ctx, c.URL, since)
}
