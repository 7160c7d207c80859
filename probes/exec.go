package probes

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opshub/opshub/internal/vars"
)

// execHandler runs a command next to the container: with the container's
// environment and working directory, in a process group of its own that is
// killed whole when the timeout passes.
type execHandler struct {
	action ExecAction
}

var _ Handler = (*execHandler)(nil)

func (h *execHandler) Describe() string { return "exec [" + strings.Join(h.action.Command, " ") + "]" }

// Probe passes when the command exits 0 within timeout. The output (stdout
// and stderr together, at most 10 KiB) is the run's output; a command that
// fails without a word is described by its exit code, and one that runs
// too long fails with the kubelet's `command "…" timed out`.
func (h *execHandler) Probe(ctx context.Context, t Target, timeout time.Duration) Outcome {
	env := map[string]string{}
	for _, kv := range t.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	args := make([]string, len(h.action.Command))
	for i, a := range h.action.Command {
		args[i] = vars.Expand(a, lookup)
	}
	path, err := vars.LookPath(args[0], env["PATH"])
	if err != nil {
		return failed("exec probe: %s", err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &cappedBuffer{max: maxBodyBytes}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        args,
		Env:         t.Env,
		Dir:         t.Dir,
		Stdout:      out,
		Stderr:      out,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   time.Second, // a grandchild holding the pipes does not hold the probe
	}
	if t.Env == nil {
		cmd.Env = os.Environ()
	}
	if err := cmd.Start(); err != nil {
		return failed("%s", err.Error())
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	// Whatever the command left running in its group goes with it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	output := out.String()
	if ctx.Err() != nil && cmd.ProcessState != nil && !cmd.ProcessState.Success() {
		return failed("command %q timed out", strings.Join(args, " "))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return Outcome{Result: Success, Output: output}
	case errors.As(err, &exit):
		if strings.TrimSpace(output) == "" {
			return failed("command exited with code %d", exit.ExitCode())
		}
		return Outcome{Result: Failure, Output: output}
	default:
		return failed("%s", err.Error())
	}
}

// cappedBuffer keeps the first max bytes written to it and discards the
// rest, never failing a write (the command must not get SIGPIPE for
// talking too much).
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b)
}
