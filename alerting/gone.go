package alerting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// oneShot events tell of a moment, not of a condition: nothing resolves
// them but the end of their instance.
var oneShot = map[string]bool{
	model.EventContainerCrash:    true,
	model.EventContainerOOM:      true,
	model.EventContainerEviction: true,
}

// indexFiring reads which alerts are firing about instances, from the
// store (a new leader's predecessor's, or those of the last run).
func (p *Pipeline) indexFiring() error {
	p.firing = map[model.Ref]map[string]bool{}
	return p.opts.Store.View(func(tx *store.Tx) error {
		return p.alerts.EachTx(tx, func(key string, a Alert) (bool, error) {
			if a.Status == model.StatusFiring && a.Instance != "" {
				p.index(model.Ref{Project: a.Project, Service: a.Service, Instance: a.Instance}, key, true)
			}
			return true, nil
		})
	})
}

// track keeps the index in step with what process stored: status is the
// alert's status after ev, "" when nothing was stored.
func (p *Pipeline) track(ev model.Event, key, status string) {
	if p.firing == nil || ev.Instance == "" || status == "" {
		return
	}
	p.index(model.Ref{Project: ev.Project, Service: ev.Service, Instance: ev.Instance}, key, status == model.StatusFiring)
}

func (p *Pipeline) index(inst model.Ref, key string, firing bool) {
	keys := p.firing[inst]
	switch {
	case firing && keys == nil:
		p.firing[inst] = map[string]bool{key: true}
	case firing:
		keys[key] = true
	default:
		delete(keys, key)
		if len(keys) == 0 {
			delete(p.firing, inst)
		}
	}
}

// instanceGone resolves every alert still firing about an instance that
// was stopped or whose pod was deleted, so that alert state stays bounded
// under churn and open incidents close. A condition (CPU, memory, a
// probe, a crash loop) resolves as it would have, its resolve sent where
// its firing was; a one-shot alert (a crash, an OOM kill, an eviction)
// is closed quietly. The usage detectors forget the instance, so that a
// new one of the same name (a StatefulSet's pod) fires afresh.
func (p *Pipeline) instanceGone(ref model.Ref, now time.Time) {
	inst := instanceRef(ref)
	summary := fmt.Sprintf("%s no longer runs", inst.Instance)
	for _, ev := range p.usage.forget(inst, now, summary) {
		p.process(ev)
	}
	keys := p.firing[inst]
	if len(keys) == 0 {
		return
	}
	var quiet []string
	var alerts []Alert
	err := p.opts.Store.View(func(tx *store.Tx) error {
		for key := range keys {
			a, ok, err := p.alerts.GetTx(tx, key)
			if err != nil {
				return err
			}
			if ok && a.Status == model.StatusFiring {
				alerts = append(alerts, a)
			}
		}
		return nil
	})
	if err != nil {
		p.log.Error("reading the alerts of a stopped instance", "instance", inst.Instance, "err", err)
		return
	}
	for _, a := range alerts {
		ev := model.Event{
			Name: a.Event, Status: model.StatusResolved, Time: now, Severity: model.Severity(a.Severity),
			Project: a.Project, Service: a.Service, Instance: a.Instance, Summary: summary, Data: map[string]any{},
		}
		resource := strings.TrimPrefix(strings.TrimPrefix(a.Key, a.Event+"|"), a.Project+"/"+a.Service+"/"+a.Instance)
		if r := strings.TrimPrefix(resource, "/"); r != "" {
			ev.Data[DataResource] = r
		}
		if oneShot[a.Event] || alertKey(ev) != a.Key {
			quiet = append(quiet, a.Key)
			continue
		}
		p.process(ev)
	}
	if len(quiet) == 0 {
		return
	}
	err = p.opts.Store.Update(func(tx *store.Tx) error {
		for _, key := range quiet {
			if err := p.resolveQuietly(tx, key, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.log.Error("resolving the alerts of a stopped instance", "instance", inst.Instance, "err", err)
		return
	}
	for _, key := range quiet {
		p.index(inst, key, false)
	}
}

// serviceLister is what a Platform that also lists its services
// (platform.Platform) offers to sweepGone.
type serviceLister interface {
	Services(ctx context.Context) ([]model.Service, error)
}

// sweepGone resolves the alerts of instances that are no longer listed but
// whose end no event told of: pods deleted while no controller led, or
// before this one subscribed. It runs with the pruning (at start, then
// every pruneEvery), when the Platform lists its services.
func (p *Pipeline) sweepGone(ctx context.Context, now time.Time) {
	lister, ok := p.opts.Platform.(serviceLister)
	if !ok || len(p.firing) == 0 {
		return
	}
	svcs, err := lister.Services(ctx)
	if err != nil {
		p.log.Warn("listing instances to resolve the alerts of those gone", "err", err)
		return
	}
	live := map[model.Ref]bool{}
	for _, svc := range svcs {
		for _, in := range svc.Instances {
			live[model.Ref{Project: svc.Project, Service: svc.Name, Instance: in.Name}] = true
		}
	}
	var gone []model.Ref
	for inst := range p.firing {
		if !live[inst] {
			gone = append(gone, inst)
		}
	}
	for _, inst := range gone {
		p.instanceGone(inst, now)
	}
}
