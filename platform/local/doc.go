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
//     ready instances only.
//
// What it must not do: it does not read opshub's config (the binary maps the
// config onto Workload and Options), it does not parse or ship logs (the
// collector tails the files it writes), it does not probe instances beyond
// "does $PORT accept a connection" (package probes owns probes and will set
// readiness through the runtime's ready seam), and it never removes pod log
// directories, not even of instances that no longer exist: the collector
// drains and retires them.
package local
