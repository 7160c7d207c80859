package sinktest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Opshub is the opshub binary run by a test as a user runs it (`opshub
// run`, `opshub controller`, ...): in its own process group, its output
// kept and shown when the test fails, stopped at the end of the test with
// SIGTERM (so that it stops what it runs), SIGKILL after 15 s. It is the
// tests' one harness for opshub processes.
type Opshub struct {
	p *process
}

// StartOpshub runs the opshub binary built by OpshubBinaries with args;
// env is added to the test's environment.
func StartOpshub(t testing.TB, args []string, env ...string) *Opshub {
	t.Helper()
	dir, err := OpshubBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return startOpshub(t, exec.Command(filepath.Join(dir, "opshub"), args...), args, env)
}

// StartOpshubInCgroup is StartOpshub with the process in the cgroup at
// cgroupDir (a directory under /sys/fs/cgroup, v1 or v2) from its first
// instruction, as a container's process is: a shell puts itself there,
// then execs opshub, which keeps its PID.
func StartOpshubInCgroup(t testing.TB, cgroupDir string, args []string, env ...string) *Opshub {
	t.Helper()
	dir, err := OpshubBinaries()
	if err != nil {
		t.Fatal(err)
	}
	shArgs := append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cgroupDir, filepath.Join(dir, "opshub")}, args...)
	return startOpshub(t, exec.Command("/bin/sh", shArgs...), args, env)
}

func startOpshub(t testing.TB, cmd *exec.Cmd, args, env []string) *Opshub {
	t.Helper()
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	name := "opshub"
	if len(args) > 0 {
		name += " " + args[0]
	}
	o := &Opshub{p: startProcess(t, name, cmd)}
	t.Cleanup(func() {
		o.p.stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, o.p.out.String())
		}
	})
	return o
}

// WaitReady waits until api (http://host:port) answers 200 on /readyz; the
// test fails if opshub exits first or timeout passes.
func (o *Opshub) WaitReady(t testing.TB, api string, timeout time.Duration) {
	t.Helper()
	o.p.waitFor(t, timeout, func() bool {
		resp, err := http.Get(api + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Signal sends sig to the opshub process (not its group).
func (o *Opshub) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := o.p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", o.p.name, err)
	}
}

// Wait waits up to timeout for the process to exit and returns what its
// Wait returned (nil for exit status 0); the test fails after timeout.
func (o *Opshub) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	exited, err := o.ExitsWithin(timeout)
	if !exited {
		t.Fatalf("%s still runs after %s:\n%s", o.p.name, timeout, o.p.out.String())
	}
	return err
}

// ExitsWithin waits up to d for the process to exit, and says whether it
// did and what its Wait returned (nil for exit status 0).
func (o *Opshub) ExitsWithin(d time.Duration) (exited bool, err error) {
	select {
	case <-o.p.done:
		return true, o.p.err
	case <-time.After(d):
		return false, nil
	}
}

// Exited reports whether the process has exited.
func (o *Opshub) Exited() bool { return o.p.exited() }

// Output is what the process wrote to stdout and stderr so far.
func (o *Opshub) Output() string { return o.p.out.String() }
