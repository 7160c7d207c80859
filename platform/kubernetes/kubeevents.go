package kubernetes

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/opshub/opshub/model"
)

// podWarnings selects the Kubernetes events opshub watches: warnings about
// pods, among them the kubelet's Unhealthy (a probe failed) and Evicted.
const podWarnings = "involvedObject.kind=Pod,type=Warning"

// Event reasons, as the kubelet writes them.
const (
	reasonUnhealthy = "Unhealthy"
	reasonEvicted   = "Evicted"
)

// eventKeyPrefix marks the queue keys of Kubernetes events. A colon cannot
// appear in a namespace, so no pod key starts with it.
const eventKeyPrefix = "event:"

// probeMessage matches the kubelet's Unhealthy message, "Liveness probe
// failed: HTTP probe failed with statuscode: 500" (or "… probe errored: …"
// when the probe could not run).
var probeMessage = regexp.MustCompile(`(?s)^(Liveness|Readiness|Startup) probe (?:failed|errored):\s*(.*)$`)

// probeOf reads the probe type and the failure out of an Unhealthy message.
func probeOf(message string) (probe, detail string, ok bool) {
	m := probeMessage.FindStringSubmatch(message)
	if m == nil {
		return "", "", false
	}
	return strings.ToLower(m[1]), strings.TrimSpace(m[2]), true
}

// containerOfField reads the container out of an event's involvedObject
// fieldPath, "spec.containers{web}".
func containerOfField(fieldPath string) string {
	for _, prefix := range []string{"spec.containers{", "spec.initContainers{", "spec.ephemeralContainers{"} {
		if rest, ok := strings.CutPrefix(fieldPath, prefix); ok {
			return strings.TrimSuffix(rest, "}")
		}
	}
	return ""
}

// occurrences is how often an event happened: the legacy count, or the
// series count of the events.k8s.io API, and at least once.
func occurrences(e *corev1.Event) int32 {
	n := e.Count
	if e.Series != nil && e.Series.Count > n {
		n = e.Series.Count
	}
	return max(n, 1)
}

// eventTime is when an event last happened, by the best field it has.
func eventTime(e *corev1.Event, now time.Time) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.UTC()
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.UTC()
	case !e.EventTime.IsZero():
		return e.EventTime.UTC()
	}
	return now
}

// seedEvent records an event that existed before the watch started, so that
// only later occurrences say something.
func (p *Platform) seedEvent(obj any) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return
	}
	p.mu.Lock()
	p.reports[e.UID] = occurrences(e)
	p.mu.Unlock()
}

func (p *Platform) enqueueEvent(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		p.log.Warn("event without a key", "err", err)
		return
	}
	p.queue.Add(eventKeyPrefix + key)
}

func (p *Platform) forgetEvent(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if e, ok := obj.(*corev1.Event); ok {
		p.mu.Lock()
		delete(p.reports, e.UID)
		p.mu.Unlock()
	}
}

// syncEvent turns a new occurrence of a pod's warning into an instance
// event: Unhealthy into probe-failing, Evicted into evicted (unless the
// pod's status said so first). Events of pods that are gone or belong to no
// service say nothing.
func (p *Platform) syncEvent(key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("event key %q: %w", key, err)
	}
	e, err := p.kubeEvents.Events(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("event %s: %w", key, err)
	}
	if e.Reason != reasonUnhealthy && e.Reason != reasonEvicted {
		return nil
	}
	n := occurrences(e)
	p.mu.Lock()
	before := p.reports[e.UID]
	p.mu.Unlock()
	if n <= before {
		return nil
	}
	pod, err := p.pods.Pods(e.InvolvedObject.Namespace).Get(e.InvolvedObject.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("event %s: pod: %w", key, err)
	}
	if e.InvolvedObject.UID != "" && e.InvolvedObject.UID != pod.UID {
		return nil // about an earlier pod of the same name
	}
	service, err := p.serviceOf(pod)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.reports[e.UID] = n
	p.mu.Unlock()
	if service == (model.Ref{}) {
		return nil
	}
	now := p.now()
	switch e.Reason {
	case reasonUnhealthy:
		if ev, ok := probeEvent(e, pod, service, now); ok {
			p.publish([]model.InstanceEvent{ev})
		}
	case reasonEvicted:
		if p.markEvicted(pod.UID) {
			p.publish([]model.InstanceEvent{evictedEvent(pod, service, reasonEvicted, e.Message, now)})
		}
	}
	return nil
}

// probeEvent translates the kubelet's Unhealthy event into probe-failing.
// The kubelet reports each failed run (its event spam filter bounds them),
// and liveness and startup failures past the threshold end in a restart
// that the pod's status shows as exited and restarted.
func probeEvent(e *corev1.Event, pod *corev1.Pod, service model.Ref, now time.Time) (model.InstanceEvent, bool) {
	probe, detail, ok := probeOf(e.Message)
	if !ok {
		return model.InstanceEvent{}, false
	}
	container := containerOfField(e.InvolvedObject.FieldPath)
	if container == "" {
		container = defaultContainer(pod)
	}
	ref := service
	ref.Instance, ref.Container = pod.Name, container
	at := eventTime(e, now)
	status := statusWord(pod, containerStatus(pod, container))
	var restarts int
	if cs := containerStatus(pod, container); cs != nil {
		restarts = int(cs.RestartCount)
	}
	return model.InstanceEvent{
		Kind: model.InstanceProbeFailing, Ref: ref, Time: now, Status: status, Restarts: restarts,
		Probe: &model.ProbeStatus{
			Type: probe, Result: "failure", Consecutive: int(occurrences(e)), Message: detail,
			LastTransition: at, LastProbe: at,
		},
		Reason: e.Reason, Message: e.Message,
	}, true
}

// eviction is why and how a pod was evicted.
type eviction struct{ reason, message string }

// Reasons of the DisruptionTarget condition that mean an eviction: through
// the Eviction API (kubectl drain, the autoscaler), by the kubelet under
// node pressure, or by the taint manager.
var evictionReasons = map[string]bool{
	"EvictionByEvictionAPI":  true,
	"TerminationByKubelet":   true,
	"DeletionByTaintManager": true,
}

// evictionOf reports whether a pod was evicted: its status reason is
// Evicted (the kubelet under node pressure), or it has a true
// DisruptionTarget condition for an eviction.
func evictionOf(pod *corev1.Pod) (eviction, bool) {
	if pod.Status.Reason == reasonEvicted {
		return eviction{reasonEvicted, pod.Status.Message}, true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && evictionReasons[c.Reason] {
			return eviction{reasonEvicted, c.Message}, true
		}
	}
	return eviction{}, false
}

// markEvicted records that a pod's evicted event is sent, and reports
// whether it was not sent before.
func (p *Platform) markEvicted(uid types.UID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.evicted[uid] {
		return false
	}
	p.evicted[uid] = true
	return true
}

// evictedEvent is the one evicted event of a pod, on its default container.
func evictedEvent(pod *corev1.Pod, service model.Ref, reason, message string, now time.Time) model.InstanceEvent {
	in := instanceOf(pod)
	ref := service
	ref.Instance, ref.Container = pod.Name, in.Container
	return model.InstanceEvent{
		Kind: model.InstanceEvicted, Ref: ref, Time: now, Status: in.Status, Restarts: in.Restarts,
		Reason: reason, Message: message,
	}
}
