// Package clusterscale holds BenchmarkClusterScale: `opshub controller`
// against a simulated cluster of thousands of pods on the end-to-end
// suite's control plane (internal/kubetest, `make k8s-tools`), with
// simulated collectors, measuring sync time, CPU, memory, API requests,
// state size and crash-loop notification latency. See docs/benchmarks.md.
package clusterscale
