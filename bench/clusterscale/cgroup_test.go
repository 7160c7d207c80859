package clusterscale

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// memCgroup is a memory cgroup of its own for the controller, limited as
// a container's memory limit limits it.
type memCgroup struct {
	dir string
	v2  bool
}

// memoryCgroup makes a cgroup limited to limit (a Kubernetes quantity such
// as 1Gi), removed when the benchmark ends (after the controller stopped).
func memoryCgroup(b *testing.B, limit string) *memCgroup {
	b.Helper()
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		b.Fatalf("-controller-memory-limit %q: %v", limit, err)
	}
	name := fmt.Sprintf("opshub-clusterscale-%d", os.Getpid())
	cg := &memCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", name)}
	limitFile := "memory.limit_in_bytes"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = &memCgroup{dir: filepath.Join("/sys/fs/cgroup", name), v2: true}
		limitFile = "memory.max"
	}
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		b.Fatalf("-controller-memory-limit needs a writable memory cgroup: %v", err)
	}
	b.Cleanup(func() { _ = os.Remove(cg.dir) })
	if err := os.WriteFile(filepath.Join(cg.dir, limitFile), []byte(strconv.FormatInt(q.Value(), 10)), 0o644); err != nil {
		b.Fatalf("limit the controller's cgroup: %v", err)
	}
	return cg
}

// report tells the cgroup's peak memory (what the kernel charged it,
// page cache included) and how often the kernel killed in it.
func (cg *memCgroup) report() string {
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(cg.dir, name))
		return strings.TrimSpace(string(b))
	}
	peak, events := read("memory.max_usage_in_bytes"), read("memory.oom_control")
	if cg.v2 {
		peak, events = read("memory.peak"), read("memory.events")
	}
	kills := "0"
	for line := range strings.Lines(events) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "oom_kill "); ok {
			kills = v
		}
	}
	n, _ := strconv.ParseInt(peak, 10, 64)
	return fmt.Sprintf("peak %s charged, %s OOM kills", mib(n), kills)
}
