package sinktest

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a server started by a test, with its output kept for the
// failure message.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *LockedBuffer
	done chan struct{}
	err  error // from Wait, once done is closed
}

func startProcess(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// stop ends the server with SIGTERM, and SIGKILL (its whole process
// group) if it does not exit within 15 s.
func (p *process) stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor polls ready until it reports true, the process exits or the
// deadline passes.
func (p *process) waitFor(t testing.TB, timeout time.Duration, ready func() bool) {
	t.Helper()
	if !p.wait(timeout, ready) {
		p.fail(t, timeout)
	}
}

// startListening starts the server that command builds to listen on addr
// and waits up to timeout until ready holds; the test fails if the server
// exits first or is not ready in time. The server is stopped when the test
// ends. An empty addr means a loopback address FreeAddr picks; a port found
// free can be taken by a parallel test before the server binds it, so a
// server that says its address is already in use is stopped and started
// again on another port (5 tries in all).
func startListening(t testing.TB, name, addr string, timeout time.Duration,
	command func(addr string) *exec.Cmd, ready func(p *process, addr string) bool) (*process, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		a := addr
		if a == "" {
			a = freeAddr(t)
		}
		p := startProcess(t, name, command(a))
		t.Cleanup(func() { p.stop(t) })
		taken := func() bool {
			return addr == "" && strings.Contains(strings.ToLower(p.out.String()), "already in use")
		}
		up := p.wait(timeout, func() bool { return taken() || ready(p, a) })
		switch {
		case taken() && attempt < 5:
			p.stop(t)
		case up && !taken():
			return p, a
		default:
			p.fail(t, timeout)
		}
	}
}

// freeAddr is FreeAddr; a test of startListening plays a port taken first.
var freeAddr = FreeAddr

// fail ends the test: the process exited during start-up or was not ready
// within timeout.
func (p *process) fail(t testing.TB, timeout time.Duration) {
	t.Helper()
	if p.exited() {
		t.Fatalf("%s exited during start-up:\n%s", p.name, p.out.String())
	}
	t.Fatalf("%s not ready after %s:\n%s", p.name, timeout, p.out.String())
}

// wait polls ready every 50 ms until it reports true (true), or the
// process exits or the deadline passes (false).
func (p *process) wait(timeout time.Duration, ready func() bool) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !ready() {
		select {
		case <-p.done:
			return ready()
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}

// LockedBuffer keeps what a process or a logger writes (up to 1 MiB) for
// reading while it is still written.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
