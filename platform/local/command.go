package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"syscall"
	"time"
)

// commandGrace is how long a one-off command has between SIGTERM and
// SIGKILL when it is stopped.
const commandGrace = 10 * time.Second

// RunCommand runs a one-off command (a flow's run step) called name on
// this machine in its own process group, with env added to opshub's
// environment, writing its output to out, until it exits or ctx ends (then
// the group gets SIGTERM and, 10s later, SIGKILL). It returns the exit
// code; an error means the program could not be started. The group is
// recorded in the state file as instances' are, so that the next start
// stops it if opshub dies first.
func (r *Runtime) RunCommand(ctx context.Context, name string, command []string, env map[string]string, dir string, out io.Writer) (int, error) {
	if len(command) == 0 {
		return 0, errors.New("no command")
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Dir = dir
	cmd.Env = cmd.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", command[0], err)
	}
	pgid := cmd.Process.Pid
	r.mu.Lock()
	state := r.state
	r.mu.Unlock()
	if state != nil {
		rec := groupRecord{Project: "flows", Service: name, Instance: name, UID: fmt.Sprintf("command-%d", pgid), PID: pgid, PGID: pgid, Started: r.clock.Now()}
		if st, err := readProcStat("/proc", pgid); err == nil {
			rec.StartTime = st.StartTime
		}
		if err := state.put(rec); err != nil {
			r.log.Warn("record process group", "command", name, "error", err)
		}
		defer func() {
			if err := state.remove(rec.UID); err != nil {
				r.log.Warn("record process group", "command", name, "error", err)
			}
		}()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(commandGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			err = <-done
		}
	}
	// Whatever the command left behind in its group goes with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	return 0, err
}
