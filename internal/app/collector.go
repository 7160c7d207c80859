package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// newLogCollector builds the collector over the local runtime's log root
// (or collector.paths) into out, and the reader the log API uses. out is
// the sinks router, which acknowledges at once a batch no sink takes (and
// every batch when no sink is configured), so the checkpoints follow the
// files and the log API works with or without sinks. held is the router's
// Held, the collector's reason to wait on it.
func newLogCollector(cfg *config.Config, logRoot string, services serviceLister, out sinks.Output, held func() (string, time.Time), reg prometheus.Registerer, log *slog.Logger) (*collector.Collector, *collector.Reader, error) {
	roots := cfg.Collector.Paths
	if len(roots) == 0 {
		roots = []string{logRoot}
	}
	return buildLogCollector(cfg, roots, &serviceResolver{services: services, now: time.Now}, out, held, reg, log)
}

// buildLogCollector builds the collector over roots, enriched by res, and
// the log API's reader over the same files. opshub run and opshub
// collector differ only in roots and resolver.
func buildLogCollector(cfg *config.Config, roots []string, res collector.Resolver, out sinks.Output, held func() (string, time.Time), reg prometheus.Registerer, log *slog.Logger) (*collector.Collector, *collector.Reader, error) {
	c, err := collector.New(collector.Options{
		Roots:        roots,
		StateDir:     filepath.Join(cfg.DataDir, "collector"),
		MaxLineBytes: int(cfg.Collector.MaxLineBytes),
		Output:       out,
		OutputHeld:   held,
		Resolver:     res,
		Logger:       log,
		Registerer:   reg,
	})
	if err != nil {
		return nil, nil, err
	}
	reader := collector.NewReader(collector.ReaderOptions{
		Roots:        roots,
		Resolver:     res,
		MaxLineBytes: int(cfg.Collector.MaxLineBytes),
	})
	return c, reader, nil
}

// serviceLister is the part of the platform the resolver needs.
type serviceLister interface {
	Services(ctx context.Context) ([]model.Service, error)
}

// serviceResolver enriches log files from the local runtime's services: a
// pod directory's uid names an instance, and the instance its service. The
// service list is refreshed at most every resolveRefresh, so that Resolve
// never waits on the runtime for long.
type serviceResolver struct {
	services serviceLister
	now      func() time.Time

	mu      sync.Mutex
	byUID   map[string]model.Ref
	fetched time.Time
}

const resolveRefresh = 2 * time.Second

func (r *serviceResolver) Resolve(src collector.Source) (model.Ref, model.Labels, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, ok := r.byUID[src.UID]
	if !ok && r.now().Sub(r.fetched) >= resolveRefresh {
		r.refresh()
		ref, ok = r.byUID[src.UID]
	}
	if !ok {
		return model.Ref{}, nil, false
	}
	ref.Container = src.Container
	return ref, nil, true
}

func (r *serviceResolver) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	svcs, err := r.services.Services(ctx)
	r.fetched = r.now()
	if err != nil {
		return
	}
	if r.byUID == nil {
		r.byUID = map[string]model.Ref{}
	}
	for _, s := range svcs {
		for _, in := range s.Instances {
			if in.UID != "" {
				r.byUID[in.UID] = model.Ref{Project: s.Project, Service: s.Name, Instance: in.Name}
			}
		}
	}
}
