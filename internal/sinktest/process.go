package sinktest

import (
	"bytes"
	"os/exec"
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
	if p.wait(timeout, ready) {
		return
	}
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
