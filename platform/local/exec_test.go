package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// TestExecEndsWithTheInstance runs a long command in an instance and scales
// the service to zero: the command is killed with the instance's run, as a
// command exec'd into a container ends with the container.
func TestExecEndsWithTheInstance(t *testing.T) {
	h := start(t, Options{}, Workload{Project: "p", Name: "sleeper", Command: []string{"/bin/sh", "-c", "sleep 1000 & wait"}, Replicas: 1, GracePeriod: time.Second})
	ins := h.waitInstances("p", "sleeper", "instance running", 10*time.Second, allStatus(1, model.StatusRunning))
	target := platform.Target{Project: "p", Service: "sleeper", Instance: ins[0].Name}

	var stdout, stderr sinktest.LockedBuffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := h.r.Exec(context.Background(), platform.ExecRequest{
			Target: target, Command: []string{"sh", "-c", "echo started; exec sleep 1000"},
			Stdout: &stdout, Stderr: &stderr,
		})
		done <- result{code, err}
	}()
	sinktest.WaitFor(t, 10*time.Second, "the command to run", func() bool { return strings.Contains(stdout.String(), "started") })
	if err := h.r.Scale(context.Background(), "p", "sleeper", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.err != nil || res.code != 128+9 {
			t.Errorf("Exec returned %d, %v; want 137 (SIGKILL) and no error", res.code, res.err)
		}
		if !strings.Contains(stderr.String(), "the instance stopped") {
			t.Errorf("stderr %q does not say that the instance stopped", stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Exec still runs after its instance stopped")
	}

	// The instance is gone now: a clear error, before anything runs.
	sinktest.WaitFor(t, 10*time.Second, "the instance removed", func() bool { return len(h.instances("p", "sleeper")) == 0 })
	_, err := h.r.Exec(context.Background(), platform.ExecRequest{Target: target, Command: []string{"true"}})
	if !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Exec in a removed instance: %v, want ErrNotFound", err)
	}
}
