package kubernetes

import (
	"regexp"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/opshub/opshub/model"
)

// Container state reasons, as the kubelet writes them.
const (
	reasonCrashLoopBackOff = "CrashLoopBackOff"
	reasonOOMKilled        = "OOMKilled"
)

// defaultContainerAnnotation names the container kubectl picks when none is
// given; opshub uses it the same way for an instance's own container.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// defaultContainer is the container an instance stands for: the one named by
// the kubectl annotation, else the first in the pod's spec.
func defaultContainer(pod *corev1.Pod) string {
	if name := pod.Annotations[defaultContainerAnnotation]; name != "" {
		for _, c := range pod.Spec.Containers {
			if c.Name == name {
				return name
			}
		}
	}
	if len(pod.Spec.Containers) == 0 {
		return ""
	}
	return pod.Spec.Containers[0].Name
}

// containerStatus returns the status of the named container, or nil before
// the kubelet (or kwok) has reported one.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// statusWord maps a container of a pod onto the user-facing status words.
// The pod's phase and deletion come first: a finished pod's containers do
// not run again, and a pod being deleted is Terminating whatever its
// containers still report.
func statusWord(pod *corev1.Pod, cs *corev1.ContainerStatus) model.Status {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return model.StatusTerminated
	case corev1.PodFailed:
		return model.StatusFailed
	}
	if pod.DeletionTimestamp != nil {
		return model.StatusTerminating
	}
	if cs == nil {
		return model.StatusStaging
	}
	switch {
	case cs.State.Running != nil:
		if cs.Started != nil && !*cs.Started {
			return model.StatusStarting
		}
		return model.StatusRunning
	case cs.State.Terminated != nil:
		code := cs.State.Terminated.ExitCode
		if restarts(pod.Spec.RestartPolicy, code) {
			return model.StatusCrashing
		}
		if code == 0 {
			return model.StatusTerminated
		}
		return model.StatusFailed
	case cs.State.Waiting != nil:
		// Waiting after a run ended means waiting to run again: the
		// kubelet's back-off, whatever reason it shows right now.
		if cs.State.Waiting.Reason == reasonCrashLoopBackOff || cs.LastTerminationState.Terminated != nil {
			return model.StatusCrashing
		}
	}
	return model.StatusStaging
}

// restarts reports whether the kubelet runs a container again after it
// exited with code under policy.
func restarts(policy corev1.RestartPolicy, code int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// podReady reports the pod's Ready condition.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// latestTermination is the most recent end of a run of the container: the
// current state when it is terminated, else the last state.
func latestTermination(cs *corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if cs.State.Terminated != nil {
		return cs.State.Terminated
	}
	return cs.LastTerminationState.Terminated
}

// exitOf translates the end of a run. The kubelet's reason is kept
// ("Error", "OOMKilled", "Completed", …); a missing one is filled the way
// the kubelet would.
func exitOf(t *corev1.ContainerStateTerminated) model.Exit {
	reason := t.Reason
	if reason == "" {
		reason = "Error"
		if t.ExitCode == 0 {
			reason = "Completed"
		}
	}
	e := model.Exit{
		Code:      int(t.ExitCode),
		Reason:    reason,
		OOMKilled: reason == reasonOOMKilled,
		Time:      t.FinishedAt.UTC(),
	}
	if t.Signal != 0 {
		e.Signal = unix.SignalName(syscall.Signal(t.Signal))
	}
	return e
}

// backoffMessage matches the kubelet's CrashLoopBackOff message,
// "back-off 40s restarting failed container=…".
var backoffMessage = regexp.MustCompile(`back-off (\S+) restarting`)

// backoffOf reads the current back-off out of a CrashLoopBackOff message.
func backoffOf(message string) (time.Duration, bool) {
	m := backoffMessage.FindStringSubmatch(message)
	if m == nil {
		return 0, false
	}
	d, err := time.ParseDuration(m[1])
	return d, err == nil
}

// instanceOf translates a pod into an instance of a service, seen through
// its default container.
func instanceOf(pod *corev1.Pod) model.Instance {
	name := defaultContainer(pod)
	cs := containerStatus(pod, name)
	in := model.Instance{
		Name:      pod.Name,
		Container: name,
		UID:       string(pod.UID),
		Status:    statusWord(pod, cs),
		Ready:     podReady(pod),
		Probes:    []model.ProbeStatus{},
		Node:      pod.Spec.NodeName,
		Requests:  requestsOf(pod, name),
	}
	if cs == nil {
		return in
	}
	in.Restarts = int(cs.RestartCount)
	if t := latestTermination(cs); t != nil {
		e := exitOf(t)
		in.LastExit = &e
		in.RecentExits = []model.Exit{e}
	}
	if r := cs.State.Running; r != nil {
		in.StartedAt = r.StartedAt.UTC()
	}
	if w := cs.State.Waiting; w != nil && w.Reason == reasonCrashLoopBackOff {
		if d, ok := backoffOf(w.Message); ok {
			in.Backoff = d.String()
		}
	}
	return in
}
