package kubernetes

// PodIP returns the IP of the pod namespace/name from the pod cache, for a
// follower controller to reach the leader it knows by its pod name. It
// reports false when the pod is not cached or has no IP yet.
func (p *Platform) PodIP(namespace, name string) (string, bool) {
	if !p.Ready() {
		return "", false
	}
	pod, err := p.pods.Pods(namespace).Get(name)
	if err != nil || pod.Status.PodIP == "" {
		return "", false
	}
	return pod.Status.PodIP, true
}
