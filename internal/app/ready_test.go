package app

import "testing"

type running bool

func (r running) Running() bool { return bool(r) }

// TestLocalReadyWaitsForTheEngines: /readyz of opshub run says ready only
// once the job and flow engines take runs, not as soon as the runtime runs
// (a flow started right after /readyz was refused with "not running flows
// now").
func TestLocalReadyWaitsForTheEngines(t *testing.T) {
	for _, c := range []struct {
		runtime, jobs, flows bool
		ready                bool
		reason               string
	}{
		{false, true, true, false, "local runtime is starting"},
		{true, false, true, false, "the job engine is starting"},
		{true, true, false, false, "the flow engine is starting"},
		{true, true, true, true, ""},
	} {
		ok, reason := localReady(func() bool { return c.runtime }, running(c.jobs), running(c.flows))()
		if ok != c.ready || reason != c.reason {
			t.Errorf("runtime %v jobs %v flows %v: ready %v %q, want %v %q", c.runtime, c.jobs, c.flows, ok, reason, c.ready, c.reason)
		}
	}
}
