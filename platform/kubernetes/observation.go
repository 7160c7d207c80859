package kubernetes

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opshub/opshub/model"
)

// maxRestartEvents caps the restarted events one status change yields, so a
// pod first seen long after many restarts does not flood subscribers.
const maxRestartEvents = 10

// podObservation is what opshub last saw of a pod: enough to tell, from the
// next status, what happened in between. It is opshub's own copy; the
// cached pod is never kept or changed.
type podObservation struct {
	uid types.UID
	// service is the pod's service, empty for pods that belong to none.
	service    model.Ref
	container  string // the instance's default container
	ready      bool
	containers map[string]containerObservation
	order      []string // container names in status order
}

// containerObservation is what opshub last saw of one container.
type containerObservation struct {
	restarts  int32
	startedAt time.Time // start of the current run; zero when not running
	exitKey   string    // identifies the latest end of a run seen
	waiting   string    // reason of the waiting state
}

// observe records a pod's current state.
func observe(pod *corev1.Pod, service model.Ref) podObservation {
	o := podObservation{
		uid:        pod.UID,
		service:    service,
		container:  defaultContainer(pod),
		ready:      podReady(pod),
		containers: make(map[string]containerObservation, len(pod.Status.ContainerStatuses)),
	}
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		c := containerObservation{restarts: cs.RestartCount}
		if r := cs.State.Running; r != nil {
			c.startedAt = r.StartedAt.UTC()
		}
		if t := latestTermination(cs); t != nil {
			c.exitKey = terminationKey(t)
		}
		if w := cs.State.Waiting; w != nil {
			c.waiting = w.Reason
		}
		o.containers[cs.Name] = c
		o.order = append(o.order, cs.Name)
	}
	return o
}

// terminationKey tells one end of a run from another. The container ID
// changes with every run; the finish time and code cover runtimes (and
// simulators) that leave it empty.
func terminationKey(t *corev1.ContainerStateTerminated) string {
	return fmt.Sprintf("%s|%s|%d|%s", t.ContainerID, t.FinishedAt.UTC().Format(time.RFC3339Nano), t.ExitCode, t.Reason)
}

// changes returns the instance events that lead from prev (nil for a pod not
// seen before) to the pod as it is now, and the new observation. Events are
// in the order they happened: a run ends (exited, oom-killed), the restart
// is counted (restarted), the kubelet waits (backoff), a run starts
// (started), and readiness follows.
func changes(prev *podObservation, pod *corev1.Pod, service model.Ref, now time.Time) (podObservation, []model.InstanceEvent) {
	cur := observe(pod, service)
	if service == (model.Ref{}) {
		return cur, nil
	}
	var out []model.InstanceEvent
	base := service
	base.Instance = pod.Name
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		var before containerObservation
		if prev != nil {
			before = prev.containers[cs.Name]
		}
		ref := base
		ref.Container = cs.Name
		status := statusWord(pod, cs)
		event := func(kind model.InstanceEventKind, restarts int32, exit *model.Exit) model.InstanceEvent {
			return model.InstanceEvent{Kind: kind, Ref: ref, Time: now, Status: status, Restarts: int(restarts), Exit: exit}
		}

		if t := latestTermination(cs); t != nil && terminationKey(t) != before.exitKey {
			exit := exitOf(t)
			// The run that ended is the one before the current count
			// when the kubelet has counted the restart already.
			run := cs.RestartCount
			if cs.State.Terminated == nil && run > 0 {
				run--
			}
			out = append(out, event(model.InstanceExited, run, &exit))
			if exit.OOMKilled {
				out = append(out, event(model.InstanceOOMKilled, run, &exit))
			}
		}
		if cs.RestartCount > before.restarts {
			var exit *model.Exit
			if t := cs.LastTerminationState.Terminated; t != nil {
				e := exitOf(t)
				exit = &e
			}
			from := max(before.restarts+1, cs.RestartCount-maxRestartEvents+1)
			for n := from; n <= cs.RestartCount; n++ {
				out = append(out, event(model.InstanceRestarted, n, exit))
			}
		}
		if w := cs.State.Waiting; w != nil && w.Reason == reasonCrashLoopBackOff &&
			(before.waiting != reasonCrashLoopBackOff || cs.RestartCount != before.restarts) {
			ev := event(model.InstanceBackoff, cs.RestartCount, nil)
			ev.Backoff, _ = backoffOf(w.Message)
			ev.Reason, ev.Message = w.Reason, w.Message
			out = append(out, ev)
		}
		if r := cs.State.Running; r != nil && !r.StartedAt.UTC().Equal(before.startedAt) {
			out = append(out, event(model.InstanceStarted, cs.RestartCount, nil))
		}
	}
	wasReady := prev != nil && prev.ready
	if cur.ready != wasReady {
		kind := model.InstanceReady
		if !cur.ready {
			kind = model.InstanceNotReady
		}
		ref := base
		ref.Container = cur.container
		in := instanceOf(pod)
		out = append(out, model.InstanceEvent{Kind: kind, Ref: ref, Time: now, Status: in.Status, Restarts: in.Restarts})
	}
	return cur, out
}

// stopped returns the events for a pod that is gone: each container was
// stopped. A pod that belonged to no service yields none.
func stopped(prev podObservation, instance string, now time.Time) []model.InstanceEvent {
	if prev.service == (model.Ref{}) {
		return nil
	}
	out := make([]model.InstanceEvent, 0, len(prev.order))
	for _, name := range prev.order {
		ref := prev.service
		ref.Instance = instance
		ref.Container = name
		out = append(out, model.InstanceEvent{
			Kind: model.InstanceStopped, Ref: ref, Time: now,
			Status: model.StatusTerminated, Restarts: int(prev.containers[name].restarts),
		})
	}
	return out
}
