// Package procfs reads the metrics of the processes opshub supervises on one
// machine: each instance is a process group, and its numbers are the sums
// over the group's processes in /proc, or the instance's own cgroup v2 files
// when it has a cgroup of its own. Volumes are measured with statfs when the
// volume is its own filesystem, else by a directory walk bounded in entries.
//
// Network counters are reported only where they belong to the instance: a
// process in opshub's own network namespace shares the host's interfaces,
// whose counters say nothing about one instance, so they are left out.
//
// It only reads; it must not change processes, cgroups or volumes.
package procfs
