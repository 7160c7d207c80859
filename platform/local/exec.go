package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/creack/pty"

	"github.com/opshub/opshub/internal/vars"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

var _ platform.Execer = (*Runtime)(nil)

// execContext is what a command run in an instance shares with the
// instance's current run: its environment and working directory (as the
// run's processSpec built them), its cgroup, and the end of the run, which
// ends the command too.
type execContext struct {
	env       []string
	dir       string
	cgroupDir string // "" when the run has no cgroup of its own
	done      <-chan struct{}
}

func newExecContext(spec processSpec, group *runCgroup, done <-chan struct{}) *execContext {
	ec := &execContext{env: slices.Clone(spec.env), dir: spec.dir, done: done}
	if group != nil {
		ec.cgroupDir = group.dir
	}
	return ec
}

// lookupInstanceLocked finds the instance a target names, or an error
// wrapping platform.ErrNotFound.
func (r *Runtime) lookupInstanceLocked(t platform.Target) (*instance, error) {
	s := r.serviceLocked(t.Project, t.Service)
	if s == nil {
		return nil, fmt.Errorf("service %s/%s: %w", t.Project, t.Service, platform.ErrNotFound)
	}
	for _, in := range s.instances {
		if in.name != t.Instance {
			continue
		}
		if t.Container != "" && t.Container != s.w.Name {
			return nil, fmt.Errorf("instance %s has no container %q (its container is %q): %w", in.name, t.Container, s.w.Name, platform.ErrNotFound)
		}
		return in, nil
	}
	return nil, fmt.Errorf("service %s/%s has no instance %q: %w", t.Project, t.Service, t.Instance, platform.ErrNotFound)
}

// runningLocked returns the instance's current run, or a
// *platform.NotRunningError. A run that is starting (its startup probe has
// not passed yet) has a process and is running in Kubernetes' sense.
func (r *Runtime) runningLocked(t platform.Target) (*instance, *execContext, error) {
	in, err := r.lookupInstanceLocked(t)
	if err != nil {
		return nil, nil, err
	}
	if in.current == nil || in.pid == 0 || (in.status != model.StatusRunning && in.status != model.StatusStarting) {
		return nil, nil, &platform.NotRunningError{Instance: in.name, Status: string(in.status)}
	}
	return in, in.current, nil
}

// Exec runs a command as the instance runs: with its environment ($PORT,
// volume variables, the workload's env), its working directory, opshub's
// user (which is the instance's) and, where opshub manages cgroups, inside
// the run's cgroup, so that it counts against the instance's limits. The
// command runs in a process group of its own (with TTY, a session with the
// terminal as its controlling terminal); when its leader exits, the rest of
// the group is killed, and the whole group is killed when the instance's run
// ends or ctx ends.
func (r *Runtime) Exec(ctx context.Context, req platform.ExecRequest) (int, error) {
	if len(req.Command) == 0 || req.Command[0] == "" {
		return 0, errors.New("exec: no command")
	}
	r.mu.RLock()
	_, ec, err := r.runningLocked(req.Target)
	r.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	stdout, stderr := orDiscard(req.Stdout), orDiscard(req.Stderr)
	path, code := resolveProgram(req.Command[0], ec)
	if code != 0 {
		fmt.Fprintf(stderr, "opshub exec: %s: %s\n", req.Command[0], exitMessage(code))
		return code, nil
	}

	var cg *os.File
	if ec.cgroupDir != "" {
		// A failure to open it means the run is ending; the command then
		// starts outside and is killed with the run below.
		if f, err := os.Open(ec.cgroupDir); err == nil {
			cg = f
			defer cg.Close()
		}
	}
	attrs := func(inCgroup bool) *syscall.SysProcAttr {
		a := &syscall.SysProcAttr{Setpgid: !req.TTY, Setsid: req.TTY, Setctty: req.TTY}
		if inCgroup && cg != nil {
			startInCgroup(a, int(cg.Fd()))
		}
		return a
	}
	var started *execStarted
	for _, inCgroup := range []bool{true, false} {
		if !inCgroup && cg == nil {
			break
		}
		cmd := &exec.Cmd{Path: path, Args: slices.Clone(req.Command), Env: ec.env, Dir: ec.dir, SysProcAttr: attrs(inCgroup)}
		if req.TTY {
			started, err = startTTY(cmd, req)
		} else {
			started, err = startPiped(cmd, req)
		}
		if err == nil || !inCgroup || cg == nil || isStartFailure(err) {
			// Starting inside a cgroup needs clone3 (Linux 5.7); other
			// errors are the program's, and a second try would repeat them.
			break
		}
	}
	if err != nil {
		code := exitCodeOfStartError(err)
		fmt.Fprintf(stderr, "opshub exec: %s: %v\n", req.Command[0], err)
		return code, nil
	}
	return started.wait(ctx, ec.done, stdout, stderr)
}

// isStartFailure reports whether err is about the program itself (not
// found, not executable), which no retry outside the cgroup would change.
func isStartFailure(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, exec.ErrNotFound)
}

// exitCodeOfStartError maps a failure to start a program to the exit code a
// shell reports for it: 127 when it does not exist, 126 otherwise.
func exitCodeOfStartError(err error) int {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOTDIR) {
		return platform.ExitNotFound
	}
	return platform.ExitCannotRun
}

func exitMessage(code int) string {
	if code == platform.ExitNotFound {
		return "command not found"
	}
	return "permission denied"
}

// resolveProgram finds the program in the instance's PATH; a name with a
// slash is taken as it is (relative to the instance's working directory).
// The code is 127 or 126 when it cannot be run.
func resolveProgram(name string, ec *execContext) (string, int) {
	if strings.Contains(name, "/") {
		return name, 0
	}
	var pathEnv string
	for _, kv := range ec.env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	path, err := vars.LookPath(name, pathEnv)
	if err != nil {
		return "", platform.ExitNotFound
	}
	return path, 0
}

// execStarted is a started command with the goroutines that move its
// output.
type execStarted struct {
	cmd     *exec.Cmd
	pgid    int
	output  sync.WaitGroup // the output copiers
	closers []io.Closer    // our ends of the pipes or the terminal, closed at the end
	stdinW  io.Closer      // closed once the command has exited
}

// startPiped starts cmd with pipes for stdin, stdout and stderr.
func startPiped(cmd *exec.Cmd, req platform.ExecRequest) (*execStarted, error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			opened = append(opened, r, w)
		}
		return r, w, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	var inW *os.File
	if req.Stdin != nil {
		var inR *os.File
		if inR, inW, err = os.Pipe(); err != nil {
			closeAll()
			return nil, err
		}
		cmd.Stdin = inR
		defer inR.Close()
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return nil, err
	}
	s := &execStarted{cmd: cmd, pgid: cmd.Process.Pid, closers: []io.Closer{outR, errR}}
	s.output.Go(func() { _, _ = io.Copy(orDiscard(req.Stdout), outR) })
	s.output.Go(func() { _, _ = io.Copy(orDiscard(req.Stderr), errR) })
	if inW != nil {
		s.stdinW = inW
		go func() {
			// Ends at the caller's EOF, or when the command is gone and
			// the pipe closed; the caller's reader is not waited for.
			_, _ = io.Copy(inW, req.Stdin)
			inW.Close()
		}()
	}
	return s, nil
}

// startTTY starts cmd on a new pseudo-terminal of the requested size.
func startTTY(cmd *exec.Cmd, req platform.ExecRequest) (*execStarted, error) {
	size := &pty.Winsize{Cols: req.Size.Cols, Rows: req.Size.Rows}
	if size.Cols == 0 || size.Rows == 0 {
		size = &pty.Winsize{Cols: 80, Rows: 24}
	}
	attrs := cmd.SysProcAttr
	ptmx, err := pty.StartWithAttrs(cmd, size, attrs)
	if err != nil {
		return nil, err
	}
	s := &execStarted{cmd: cmd, pgid: cmd.Process.Pid, closers: []io.Closer{ptmx}}
	// The terminal mixes both streams, as a terminal does.
	s.output.Go(func() { _, _ = io.Copy(orDiscard(req.Stdout), ptmx) })
	if req.Stdin != nil {
		go func() { _, _ = io.Copy(ptmx, req.Stdin) }()
	}
	if req.Resize != nil {
		stop := make(chan struct{})
		s.closers = append(s.closers, closerFunc(func() error { close(stop); return nil }))
		go func() {
			for {
				select {
				case <-stop:
					return
				case sz, ok := <-req.Resize:
					if !ok {
						return
					}
					if sz.Cols > 0 && sz.Rows > 0 {
						_ = pty.Setsize(ptmx, &pty.Winsize{Cols: sz.Cols, Rows: sz.Rows})
					}
				}
			}
		}()
	}
	return s, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// wait waits for the command's leader to exit, then kills what is left of
// its group, drains the output and returns the exit code. The end of the
// instance's run or of ctx kills the group at once.
func (s *execStarted) wait(ctx context.Context, runDone <-chan struct{}, stdout, stderr io.Writer) (int, error) {
	exited := make(chan struct{})
	var state *os.ProcessState
	var waitErr error
	go func() {
		state, waitErr = s.cmd.Process.Wait()
		close(exited)
	}()
	var ctxErr error
	select {
	case <-exited:
	case <-runDone:
		_ = syscall.Kill(-s.pgid, syscall.SIGKILL)
		<-exited
		fmt.Fprintln(stderr, "opshub exec: the instance stopped; the command was killed")
	case <-ctx.Done():
		_ = syscall.Kill(-s.pgid, syscall.SIGKILL)
		<-exited
		ctxErr = ctx.Err()
	}
	// The group's pid stays reserved while it has members, so this cannot
	// hit a stranger.
	_ = syscall.Kill(-s.pgid, syscall.SIGKILL)
	if s.stdinW != nil {
		s.stdinW.Close()
	}
	if !waitTimeout(&s.output, drainLimit) {
		for _, c := range s.closers {
			c.Close()
		}
		s.output.Wait()
	}
	for _, c := range s.closers {
		c.Close()
	}
	if ctxErr != nil {
		return 0, ctxErr
	}
	if waitErr != nil {
		return 0, fmt.Errorf("exec: wait: %w", waitErr)
	}
	return exitCodeOf(state), nil
}

// exitCodeOf is a shell's $? for a process state: the exit status, or 128+N
// for a process killed by signal N.
func exitCodeOf(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// DialInstance connects to port on the instance. Instances share the
// machine's network and listen on the loopback interface; the service's
// front port (the workload's port) stands for the instance's own $PORT, as
// a container port stands for the pod's.
func (r *Runtime) DialInstance(ctx context.Context, t platform.Target, port int) (io.ReadWriteCloser, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("port %d is out of range", port)
	}
	r.mu.RLock()
	in, _, err := r.runningLocked(t)
	if err == nil && in.svc.w.Port != 0 && port == in.svc.w.Port {
		port = in.port
	}
	r.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("instance %s: port %d: %w", t.Instance, port, err)
	}
	return conn, nil
}
