// Package kubelet reads container metrics from a node's kubelet: the
// cAdvisor endpoint (/metrics/cadvisor, the Prometheus text format, parsed
// with prometheus/common's expfmt) for CPU, memory, disk and network, and the
// summary API (/stats/summary) for volumes and ephemeral storage. It
// authenticates with the pod's service account token and verifies the
// kubelet's certificate against the cluster CA.
//
// It turns the kubelet's numbers into metrics.Readings and nothing more: it
// must not compute rates (metrics.Rater does, using cAdvisor's own
// timestamps and container start times, so counter resets and restarts give
// correct rates) and must not talk to the Kubernetes API.
package kubelet
