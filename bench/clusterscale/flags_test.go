package clusterscale

import (
	"flag"
	"time"
)

// The simulated cluster's size and the phases' length: small by default,
// so that a shared machine runs it; the cluster is
// -nodes 1000 -pods 10000 -namespaces 200.
var (
	nodes        = flag.Int("nodes", 100, "simulated nodes")
	pods         = flag.Int("pods", 1000, "pods of the workloads")
	namespaces   = flag.Int("namespaces", 20, "namespaces the workloads are spread over")
	replicas     = flag.Int("replicas", 10, "pods per workload")
	crashPods    = flag.Int("crashloops", 20, "pods driven into a crash loop during churn, one at a time")
	churnRate    = flag.Float64("churn", 2, "pods deleted a second during the churn phase")
	phase        = flag.Duration("phase", 2*time.Minute, "length of the steady and of the churn phase")
	settle       = flag.Duration("settle", time.Minute, "time after the first sync before the steady phase: a new leader's import of every workload's release history")
	profileDir   = flag.String("profile", "", "directory to save the controller's profiles taken during the steady phase in (server.pprof): a 30 s CPU profile, controller-cpu.prof, then the heap, controller-heap.prof; read them with go tool pprof -top")
	buildTimeout = flag.Duration("build-timeout", 20*time.Minute, "how long the simulated cluster may take to run every pod")
	memLimit     = flag.String("controller-gomemlimit", "", "GOMEMLIMIT for the controller's process only (e.g. 900MiB, as a chart sets it from the container's memory limit); empty: the Go runtime's default (none)")
	ctlMemory    = flag.String("controller-memory-limit", "", "run the controller in a memory cgroup with this limit (e.g. 1Gi), as a container with that limit: it sets its GOMEMLIMIT from it (90 %) and the kernel kills it past it; needs a writable /sys/fs/cgroup (v1 memory controller or v2)")
	history      = flag.Duration("history", time.Hour, "what each simulated collector answers a first ask (since zero) with, as a real one answers with all it holds (an hour); 0: only the newest recording")
)
