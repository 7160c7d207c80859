package alerting

import (
	"fmt"
	"time"

	"github.com/opshub/opshub/model"
)

// CrashLoop is the crash-loop rule: Restarts restarts within Window.
type CrashLoop struct {
	Restarts int
	Window   time.Duration
}

// ReasonCrashLoopBackOff is the platform's reason on a backoff event that
// Kubernetes reports as CrashLoopBackOff.
const ReasonCrashLoopBackOff = "CrashLoopBackOff"

// instanceDetector turns one platform's instance events into user-facing
// events. It is not safe for concurrent use: the pipeline's one event loop
// owns it. Its state is in memory; after a restart, restarts are counted
// afresh, while alert state and throttling (which decide what is sent)
// live in store.
//
// A crash loop is one episode however it is noticed: by the restart count
// (every platform) or by a CrashLoopBackOff backoff event (Kubernetes), and
// whichever comes second adds nothing. The episode ends after a whole
// window without a restart or a CrashLoopBackOff, or when the instance is
// stopped.
type instanceDetector struct {
	crashLoop CrashLoop
	link      linkFunc

	restarts map[model.Ref][]time.Time // restart times within the window, oldest first
	backoff  map[model.Ref]time.Time   // the last CrashLoopBackOff, by instance
	looping  map[model.Ref]model.Event // firing crash loops, by instance
}

func newInstanceDetector(cl CrashLoop, link linkFunc) *instanceDetector {
	if link == nil {
		link = func(model.Ref, string, time.Time) string { return "" }
	}
	return &instanceDetector{
		crashLoop: cl, link: link,
		restarts: map[model.Ref][]time.Time{},
		backoff:  map[model.Ref]time.Time{},
		looping:  map[model.Ref]model.Event{},
	}
}

// instanceRef is the key of an instance's state (the container is implied).
func instanceRef(r model.Ref) model.Ref {
	return model.Ref{Project: r.Project, Service: r.Service, Instance: r.Instance}
}

// Observe returns the events one instance event gives rise to. Crash and
// OOM events do not carry the last lines yet: the pipeline reads them.
func (d *instanceDetector) Observe(ie model.InstanceEvent) []model.Event {
	key := instanceRef(ie.Ref)
	switch ie.Kind {
	case model.InstanceExited:
		if ie.Exit == nil || ie.Exit.OOMKilled || (ie.Exit.Code == 0 && ie.Exit.Signal == "") {
			return nil
		}
		ev := d.base(ie, model.EventContainerCrash, model.SeverityWarning)
		ev.Summary = fmt.Sprintf("%s exited with %s", ie.Ref.Instance, describeExit(*ie.Exit))
		addExit(ev.Data, *ie.Exit)
		return []model.Event{ev}
	case model.InstanceOOMKilled:
		ev := d.base(ie, model.EventContainerOOM, model.SeverityCritical)
		ev.Summary = fmt.Sprintf("%s was killed for running out of memory", ie.Ref.Instance)
		if ie.Exit != nil {
			addExit(ev.Data, *ie.Exit)
		}
		return []model.Event{ev}
	case model.InstanceRestarted:
		times := append(d.restarts[key], ie.Time)
		times = pruneBefore(times, ie.Time.Add(-d.crashLoop.Window))
		d.restarts[key] = times
		if _, firing := d.looping[key]; firing || d.crashLoop.Restarts <= 0 || len(times) < d.crashLoop.Restarts {
			return nil
		}
		ev := d.base(ie, model.EventContainerCrashLoop, model.SeverityCritical)
		ev.Summary = fmt.Sprintf("%s restarted %d times in %s", ie.Ref.Instance, len(times), d.crashLoop.Window)
		if ie.Exit != nil {
			ev.Summary += fmt.Sprintf(" (%s)", describeExit(*ie.Exit))
			addExit(ev.Data, *ie.Exit)
		}
		ev.Data["restartsInWindow"] = len(times)
		ev.Data["threshold"] = d.crashLoop.Restarts
		ev.Data["window"] = d.crashLoop.Window.String()
		d.looping[key] = ev
		return []model.Event{ev}
	case model.InstanceBackoff:
		if ie.Reason != ReasonCrashLoopBackOff {
			return nil // the local runtime's back-off: the restart rule decides
		}
		d.backoff[key] = ie.Time
		if _, firing := d.looping[key]; firing {
			return nil
		}
		ev := d.base(ie, model.EventContainerCrashLoop, model.SeverityCritical)
		ev.Summary = fmt.Sprintf("%s is in CrashLoopBackOff after %d restarts", ie.Ref.Instance, ie.Restarts)
		if ie.Backoff > 0 {
			ev.Summary += fmt.Sprintf(", next start in %s", ie.Backoff)
			ev.Data["backoff"] = ie.Backoff.String()
		}
		ev.Data["reason"] = ie.Reason
		if ie.Message != "" {
			ev.Data["message"] = ie.Message
		}
		ev.Data["window"] = d.crashLoop.Window.String()
		d.looping[key] = ev
		return []model.Event{ev}
	case model.InstanceEvicted:
		ev := d.base(ie, model.EventContainerEviction, model.SeverityWarning)
		ev.Summary = fmt.Sprintf("%s was evicted", ie.Ref.Instance)
		if ie.Message != "" {
			ev.Summary += ": " + ie.Message
			ev.Data["message"] = ie.Message
		}
		if ie.Reason != "" {
			ev.Data["reason"] = ie.Reason
		}
		return []model.Event{ev}
	case model.InstanceProbeFailing, model.InstanceProbeRecovered:
		if ie.Probe == nil {
			return nil
		}
		ev := d.base(ie, model.EventProbeFailing, model.SeverityWarning)
		ev.Data[DataResource] = ie.Probe.Type
		ev.Data["probe"] = ie.Probe.Type
		ev.Data["consecutive"] = ie.Probe.Consecutive
		if ie.Probe.Handler != "" {
			ev.Data["handler"] = ie.Probe.Handler
		}
		if ie.Kind == model.InstanceProbeRecovered {
			ev.Status = model.StatusResolved
			ev.Summary = fmt.Sprintf("%s probe of %s passes again", ie.Probe.Type, ie.Ref.Instance)
			return []model.Event{ev}
		}
		ev.Summary = fmt.Sprintf("%s probe of %s is failing: %s", ie.Probe.Type, ie.Ref.Instance, ie.Probe.Message)
		ev.Data["message"] = ie.Probe.Message
		return []model.Event{ev}
	case model.InstanceStopped:
		// Stopped on request: nothing is wrong any more.
		delete(d.restarts, key)
		delete(d.backoff, key)
		if ev, ok := d.looping[key]; ok {
			delete(d.looping, key)
			return []model.Event{resolved(ev, ie.Time, fmt.Sprintf("%s was stopped", ie.Ref.Instance))}
		}
	}
	return nil
}

// Tick resolves crash loops of instances that have neither restarted nor
// been in CrashLoopBackOff for a whole window.
func (d *instanceDetector) Tick(now time.Time) []model.Event {
	var out []model.Event
	cutoff := now.Add(-d.crashLoop.Window)
	for key, ev := range d.looping {
		times := pruneBefore(d.restarts[key], cutoff)
		d.restarts[key] = times
		if len(times) == 0 && !d.backoff[key].After(cutoff) {
			delete(d.looping, key)
			delete(d.restarts, key)
			delete(d.backoff, key)
			out = append(out, resolved(ev, now, fmt.Sprintf("%s has not restarted for %s", key.Instance, d.crashLoop.Window)))
		}
	}
	return out
}

func (d *instanceDetector) base(ie model.InstanceEvent, name string, sev model.Severity) model.Event {
	data := map[string]any{"container": ie.Ref.Container, "restarts": ie.Restarts, "status": string(ie.Status)}
	if l := d.link(ie.Ref, "logs", ie.Time); l != "" {
		data["link"] = l
	}
	return model.Event{
		Name: name, Status: model.StatusFiring, Severity: sev, Time: ie.Time,
		Project: ie.Ref.Project, Service: ie.Ref.Service, Instance: ie.Ref.Instance,
		Data: data,
	}
}

func resolved(ev model.Event, now time.Time, summary string) model.Event {
	ev.ID = ""
	ev.Status = model.StatusResolved
	ev.Time = now
	ev.Summary = summary
	return ev
}

func addExit(data map[string]any, e model.Exit) {
	data["exitCode"] = e.Code
	data["reason"] = e.Reason
	if e.Signal != "" {
		data["signal"] = e.Signal
	}
}

func describeExit(e model.Exit) string {
	if e.Signal != "" {
		return fmt.Sprintf("signal %s", e.Signal)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

func pruneBefore(times []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(cutoff) {
		i++
	}
	return times[i:]
}
