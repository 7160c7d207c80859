package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/opshub/opshub/store"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/spend"
)

// SpendModel maps the config onto the spend price model and billing zone.
func SpendModel(cfg *config.Config) (spend.Model, *time.Location, error) {
	tz, err := time.LoadLocation(cfg.Spend.TimeZone)
	if err != nil {
		return spend.Model{}, nil, fmt.Errorf("spend.timeZone: %w", err)
	}
	prices := func(p config.Prices) spend.Prices {
		return spend.Prices{CPUCoreHour: p.CPUCoreHour, MemoryGiBHour: p.MemoryGiBHour, StorageGiBMonth: p.StorageGiBMonth}
	}
	m := spend.Model{Prices: prices(cfg.Spend.Prices), Basis: spend.Basis(cfg.Spend.Basis), Projects: map[string]spend.Prices{}, NodePools: map[string]spend.Prices{}}
	for _, o := range cfg.Spend.Overrides {
		if o.NodePool != "" {
			m.NodePools[o.NodePool] = prices(o.Prices)
			continue
		}
		m.Projects[o.Project] = prices(o.Prices)
	}
	return m, tz, nil
}

// SpendThresholds maps the configured billing alerts.
func SpendThresholds(cfg *config.Config) []spend.Threshold {
	out := make([]spend.Threshold, 0, len(cfg.Spend.Alerts))
	for _, a := range cfg.Spend.Alerts {
		out = append(out, spend.Threshold{Amount: a.Amount, Project: a.Project})
	}
	return out
}

// spendObserver reports the running containers with their requests and
// latest usage, and the declared volumes, to the spend meter.
type spendObserver struct {
	platform platform.Platform
	requests map[model.Ref]map[autoscaler.Resource]float64
	usage    autoscaler.UsageReader
	volumes  []spend.Volume
}

// Observe implements spend.Observer. Instances that are not running
// (staging, waiting in back-off, ended) are not charged.
func (o spendObserver) Observe(ctx context.Context, _ time.Time) ([]spend.Container, []spend.Volume, error) {
	svcs, err := o.platform.Services(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []spend.Container
	for _, svc := range svcs {
		for _, in := range svc.Instances {
			ref := model.Ref{Project: svc.Project, Service: svc.Name, Instance: in.Name, Container: in.Container}
			req := o.requests[svc.Ref()]
			if in.Requests != nil {
				req = map[autoscaler.Resource]float64{autoscaler.CPU: in.Requests.CPU, autoscaler.Memory: in.Requests.Memory}
			}
			c := spend.Container{
				Ref:           ref,
				NodePool:      in.NodePool,
				Running:       in.Status == model.StatusRunning || in.Status == model.StatusStarting || in.Status == model.StatusTerminating,
				CPURequest:    req[autoscaler.CPU],
				MemoryRequest: req[autoscaler.Memory],
			}
			if s, ok := o.usage.Usage(ref, autoscaler.CPU); ok {
				c.CPUUsage = s.Value
			}
			if s, ok := o.usage.Usage(ref, autoscaler.Memory); ok {
				c.MemoryUsage = s.Value
			}
			out = append(out, c)
		}
	}
	volumes := o.volumes
	if lister, ok := o.platform.(allVolumeLister); ok && len(o.volumes) == 0 {
		all, err := lister.AllVolumes(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, svc := range svcs {
			for _, v := range all[model.Ref{Project: svc.Project, Service: svc.Name}] {
				if v.Capacity > 0 {
					volumes = append(volumes, spend.Volume{Ref: model.Ref{Project: svc.Project, Service: svc.Name, Instance: v.Name}, CapacityBytes: float64(v.Capacity)})
				}
			}
		}
	}
	return out, volumes, nil
}

// allVolumeLister is a platform that reports its services' volumes (the
// Kubernetes platform's claims), all in one pass; spend charges them by
// capacity.
type allVolumeLister interface {
	AllVolumes(ctx context.Context) (map[model.Ref][]model.Volume, error)
}

// SpendVolumes lists the declared volumes, each charged once by capacity
// (on one machine the replicas of a workload share its volume directory).
func SpendVolumes(cfg *config.Config) []spend.Volume {
	var out []spend.Volume
	for _, w := range cfg.Workloads {
		for _, v := range w.Volumes {
			out = append(out, spend.Volume{Ref: model.Ref{Project: w.Project, Service: w.Name, Instance: v.Name}, CapacityBytes: float64(v.Capacity)})
		}
	}
	return out
}

// newSpendMeter builds the spend meter with its ledger in the state file.
func newSpendMeter(cfg *config.Config, p platform.Platform, usage autoscaler.UsageReader, db *store.DB, publish func(model.Event), reg prometheus.Registerer, log *slog.Logger) (*spend.Meter, error) {
	m, tz, err := SpendModel(cfg)
	if err != nil {
		return nil, err
	}
	ledger, err := spend.OpenLedger(m, tz, spend.NewDBStore(db))
	if err != nil {
		return nil, err
	}
	r := cfg.Spend.Retention
	if err := ledger.SetRetention(spend.Retention{HourlyMonths: r.HourlyMonths, Months: r.Months}); err != nil {
		return nil, err
	}
	meter, err := spend.NewMeter(spend.MeterOptions{
		Ledger:     ledger,
		Observer:   spendObserver{platform: p, requests: Requests(cfg), usage: usage, volumes: SpendVolumes(cfg)},
		Currency:   cfg.Spend.Currency,
		Thresholds: SpendThresholds(cfg),
		DB:         db,
		Publish:    publish,
		Logger:     log,
	})
	if err != nil {
		return nil, err
	}
	if err := reg.Register(meter); err != nil {
		return nil, fmt.Errorf("register spend metrics: %w", err)
	}
	return meter, nil
}
