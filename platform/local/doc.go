// Package local is opshub's slim process runtime: on one machine it
// supervises each workload's replicas as OS process groups and presents them
// through platform.Platform exactly as Kubernetes presents pods, so that the
// collector, metrics, alerts, probes, autoscaling and releases run unchanged.
//
// What it does, in the kubelet's terms:
//
//   - runs Replicas instances per workload, each in its own process group
//     (and, where a delegated cgroup v2 hierarchy allows it, its own cgroup
//     with cpu.max and memory.max), with its own $PORT;
//   - restarts them by RestartPolicy with the kubelet's CrashLoopBackOff
//     (immediate first restart, then 10 s doubling to 5 min, reset after a
//     run of more than 10 min);
//   - writes their stdout and stderr through package crilog into the
//     kubelet's pod log layout under DataDir/pods;
//   - stops them with SIGTERM, a grace period and SIGKILL to the group;
//   - records every live process group in DataDir/local/state.json so that
//     the next run can stop what a crashed opshub left behind;
//   - fronts each workload with a Port by a reverse proxy that balances over
//     ready instances only;
//   - runs each instance's startup, readiness and liveness probes through
//     package probes, for the instance's whole life: readiness decides
//     Ready (and so the proxy), a liveness or startup failure stops the run
//     and restarts it through the normal restart path with the exit reason
//     LivenessProbeFailed or StartupProbeFailed (the back-off applies), and
//     the startup probe holds the instance in Starting. Without a readiness
//     probe, an instance is ready once started and its $PORT accepts
//     connections; without any probe, as before probes existed.
//
// What it must not do: it does not read opshub's config (the binary maps the
// config onto Workload and Options), it does not parse or ship logs (the
// collector tails the files it writes), it does not run checks itself
// beyond "does $PORT accept a connection" (package probes owns the checks,
// their thresholds and their status; the runtime only acts on verdicts
// through its ready seam and its restart path), and it never removes pod log
// directories, not even of instances that no longer exist: the collector
// drains and retires them.
package local
