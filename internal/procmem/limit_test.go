package procmem

import (
	"bytes"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// keepLimit restores the runtime's memory limit after a test.
func keepLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
}

func TestTheRuntimeStaysUnderNineTenthsOfTheContainersLimit(t *testing.T) {
	keepLimit(t)
	t.Setenv("GOMEMLIMIT", "")
	var logs bytes.Buffer
	got := setLimit(slog.New(slog.NewTextHandler(&logs, nil)), memlimit.Limit(1<<30))
	if want := int64(966367641); got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("limit %d, runtime's %d; want %d", got, debug.SetMemoryLimit(-1), want)
	}
	if !strings.Contains(logs.String(), "GOMEMLIMIT=966367641") {
		t.Errorf("the limit set is not logged: %s", logs.String())
	}
}

func TestGOMEMLIMITInTheEnvironmentWins(t *testing.T) {
	keepLimit(t)
	t.Setenv("GOMEMLIMIT", "900MiB")
	before := debug.SetMemoryLimit(-1)
	if got := setLimit(slog.New(slog.DiscardHandler), memlimit.Limit(1<<30)); debug.SetMemoryLimit(-1) != before {
		t.Errorf("the runtime's limit changed to %d (returned %d) although GOMEMLIMIT is set", debug.SetMemoryLimit(-1), got)
	}
}

func TestNoContainerLimitChangesNothing(t *testing.T) {
	keepLimit(t)
	t.Setenv("GOMEMLIMIT", "")
	noLimit := func() (uint64, error) { return 0, memlimit.ErrNoLimit }
	if got := setLimit(slog.New(slog.DiscardHandler), noLimit); got != 0 {
		t.Errorf("limit %d without a container limit, want none", got)
	}
}
