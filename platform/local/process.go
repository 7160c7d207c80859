package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opshub/opshub/model"
)

// drainLimit bounds the wait for the output pipes after the process group
// was killed: only a process that escaped the group (setsid) can still hold
// them, and it must not keep the exit from being recorded.
const drainLimit = 2 * time.Second

// processSpec is everything needed to start one run.
type processSpec struct {
	path string   // resolved program
	args []string // argv, args[0] included
	env  []string
	dir  string
	// cgroupFD, when >= 0, starts the process inside that cgroup.
	cgroupFD int
	// onLeaderExit, when set, runs right after the leader is reaped, before
	// the output is drained (the run's cgroup kills its remaining processes).
	onLeaderExit func()
	// onLogError receives the first failure to write each stream's log.
	onLogError func(error)
}

// outputSink receives the run's output, one writer per stream. crilog.File
// is the production one.
type outputSink interface {
	Stream(stream string) io.WriteCloser
}

// process is one run of an instance: a process group led by the started
// program. The leader plays the part of a container's init: when it exits,
// whatever is left of its group is killed, as a container's processes are.
type process struct {
	pid       int
	startTime uint64 // from /proc, for the state file
	done      chan struct{}

	// Set before done is closed.
	state      *os.ProcessState
	waitErr    error
	finishedAt time.Time // when the leader was reaped
}

// startProcess starts spec in a new process group with its stdout and stderr
// copied into out. The pipes are drained by two goroutines that end with the
// run; done is closed once the leader is reaped, the group killed and both
// pipes drained (or drainLimit passed).
func startProcess(spec processSpec, out outputSink, now func() time.Time) (*process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:   spec.path,
		Args:   spec.args,
		Env:    spec.env,
		Dir:    spec.dir,
		Stdout: outW, // *os.File: handed to the child as is, no copying goroutine in exec
		Stderr: errW,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true, // signals reach the whole tree; nothing outlives a stop
		},
	}
	if spec.cgroupFD >= 0 {
		startInCgroup(cmd.SysProcAttr, spec.cgroupFD)
	}
	err = cmd.Start()
	outW.Close() // the child holds its own copies now
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	if st, err := readProcStat("/proc", p.pid); err == nil {
		p.startTime = st.StartTime
	}

	var drained sync.WaitGroup
	for stream, r := range map[string]*os.File{"stdout": outR, "stderr": errR} {
		w := out.Stream(stream)
		drained.Go(func() {
			// Ends at EOF, or with an error once r is closed below.
			_, _ = io.Copy(&drainingWriter{w: w, report: spec.onLogError}, r)
			w.Close()
		})
	}
	go func() {
		p.state, p.waitErr = cmd.Process.Wait()
		p.finishedAt = now()
		if spec.onLeaderExit != nil {
			spec.onLeaderExit()
		}
		// The leader is reaped, but its pid stays reserved as long as its
		// process group has members, so this cannot hit a stranger.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		if !waitTimeout(&drained, drainLimit) {
			outR.Close()
			errR.Close()
			drained.Wait()
		}
		outR.Close()
		errR.Close()
		close(p.done)
	}()
	return p, nil
}

// drainingWriter keeps a pipe drained when its log cannot be written: a
// process must never block on its output because, say, the disk is full.
// Every write is still tried; the first failure is reported.
type drainingWriter struct {
	w        io.Writer
	reported bool
	report   func(error)
}

func (d *drainingWriter) Write(p []byte) (int, error) {
	if _, err := d.w.Write(p); err != nil && !d.reported && d.report != nil {
		d.reported = true
		d.report(err)
	}
	return len(p), nil
}

// signal sends sig to the process group.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// exit describes how the run ended; oom comes from the run's cgroup. It may
// be called once done is closed.
func (p *process) exit(oom bool) model.Exit {
	e := model.Exit{Time: p.finishedAt}
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	switch {
	case p.waitErr != nil || !ok:
		e.Code, e.Reason = -1, "Unknown"
	case ws.Signaled():
		e.Code, e.Signal, e.Reason = -1, signalName(ws.Signal()), "Signaled"
	case ws.ExitStatus() == 0:
		e.Code, e.Reason = 0, "Completed"
	default:
		e.Code, e.Reason = ws.ExitStatus(), "Error"
	}
	if oom {
		e.OOMKilled, e.Reason = true, "OOMKilled"
	}
	return e
}

// startError is the exit recorded when the program could not be started at
// all; 128 and StartError are what containerd and the kubelet report then.
func startError(at time.Time) model.Exit {
	return model.Exit{Code: 128, Reason: "StartError", Time: at}
}

// signalNames are the signal names (process_linux.go adds Linux's own);
// syscall only knows descriptions.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT",
	syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF",
	syscall.SIGWINCH: "SIGWINCH", syscall.SIGIO: "SIGIO", syscall.SIGSYS: "SIGSYS",
}

func signalName(sig syscall.Signal) string {
	if name, ok := signalNames[sig]; ok {
		return name
	}
	return "SIG" + strconv.Itoa(int(sig))
}

// waitTimeout waits for wg at most d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-finished:
		return true
	case <-t.C:
		return false
	}
}
