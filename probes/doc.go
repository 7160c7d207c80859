// Package probes runs health checks with the kubelet's semantics
// (k8s.io/kubernetes pkg/kubelet/prober and pkg/probe) and keeps their
// status.
//
// What it does:
//
//   - four handlers: HTTP GET (200–399 passes, 3xx that leaves the host is a
//     passing warning, at most 10 KiB of the body read), TCP connect, exec
//     (exit 0 within the timeout) and the gRPC health service (SERVING only);
//   - one worker per probe of a container, as the kubelet's: a tick every
//     periodSeconds (ticks aligned to 100 ms, so that probes due together
//     wake the process once), random first-run jitter while the Manager is young,
//     initialDelaySeconds from the container's start, the startup probe
//     gating the others, consecutive-result thresholds, readiness starting
//     failed and liveness passing, and a hold after a liveness or startup
//     verdict until the next container;
//   - a Tracker per probe with its current and last results, last failure
//     and the last 100 runs, rendered as model.ProbeStatus;
//   - per-container metric series (opshub_probe_success,
//     opshub_probe_duration_seconds, opshub_probe_http_status_code) in
//     Metrics, a prometheus.Collector; they leave /metrics when the
//     container goes away.
//
// A thousand HTTP probes a second cost under a tenth of a core
// (docs/benchmarks.md): each run still opens its own connection, as the
// kubelet's do, but speaks HTTP/1.1 on it directly and, on Linux, connects
// without net.Dialer's extra system calls (dial_linux.go).
//
// What it must not do: it never restarts, stops or routes anything itself.
// A Container reports effective results to its owner (platform/local acts on
// them: restarts, readiness, the proxy), and it never reads opshub's config:
// the binary maps the config onto Spec. On Kubernetes the kubelet probes;
// there the same Tracker is fed from pod conditions and Unhealthy events, so
// both platforms report one view.
package probes
