package procmem

import (
	"errors"
	"log/slog"
	"math"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// LimitRatio is the share of the container's memory limit the Go runtime
// is asked to stay under (Prometheus' default too): the rest is for what
// the runtime does not count (the executable's pages, thread stacks,
// memory the runtime has not returned yet).
const LimitRatio = 0.9

// SetLimitFromContainer sets the Go runtime's soft memory limit
// (GOMEMLIMIT) to LimitRatio of the memory limit of this process's
// container (its cgroup, v1 or v2), so that under memory pressure the
// garbage collector runs harder before the kernel's OOM killer ends the
// process. GOMEMLIMIT in the environment wins; AUTOMEMLIMIT takes another
// share (0.8) or turns this off (off). Without a limit nothing changes.
// It logs the limit it sets, and returns it (0: none set).
func SetLimitFromContainer(log *slog.Logger) int64 {
	return setLimit(log, func() (uint64, error) {
		limit, err := memlimit.FromCgroup()
		if errors.Is(err, memlimit.ErrCgroupsNotSupported) {
			return 0, memlimit.ErrNoLimit // not Linux: no container limit to follow
		}
		return limit, err
	})
}

func setLimit(log *slog.Logger, from memlimit.Provider) int64 {
	limit, err := memlimit.Set(memlimit.WithRatio(LimitRatio), memlimit.WithProvider(from), memlimit.WithLogger(log))
	if err != nil || limit == math.MaxInt64 {
		return 0
	}
	return limit
}
