package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Execer runs commands in running instances and opens connections to their
// ports: what `opshub exec`, `opshub shell` and `opshub forward` use. The
// local runtime and the Kubernetes platform implement it.
//
// Callers may rely on:
//   - Exec returns only once the command has ended and all its output was
//     written to Stdout and Stderr. Its int is the command's exit code: the
//     program's own, 128+N when signal N killed it, 126 when it could not be
//     run, 127 when it was not found (as shells and kubectl say). Then a
//     message saying why is written to Stderr and the error is nil.
//   - An error wraps ErrNotFound for an unknown service, instance or
//     container, and is a *NotRunningError when the instance exists but has
//     no running process; both come before anything was started.
//   - When ctx ends the command is killed and Exec returns ctx's error.
//   - The command also ends when the instance stops.
//   - DialInstance returns a connection to port as the instance sees it;
//     closing it ends the forwarding of that one connection.
type Execer interface {
	Exec(ctx context.Context, req ExecRequest) (exitCode int, err error)
	DialInstance(ctx context.Context, target Target, port int) (io.ReadWriteCloser, error)
}

// Target names one container of one instance.
type Target struct {
	Project, Service, Instance string
	// Container is the container's name; "" means the instance's only (or
	// first) container.
	Container string
}

// ExecRequest is one command to run in an instance.
type ExecRequest struct {
	Target
	// Command is the program and its arguments; the program is looked up in
	// the instance's PATH when it has no slash.
	Command []string
	// Stdin, when not nil, is the command's standard input; its EOF closes
	// it. Nil means the command reads end of file at once.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output. With TTY the terminal
	// carries both, all of it to Stdout.
	Stdout, Stderr io.Writer
	// TTY runs the command on a pseudo-terminal of Size, resized to every
	// value Resize delivers.
	TTY    bool
	Size   TermSize
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

// Exit codes Exec returns for commands that never ran, as POSIX shells (and
// so kubectl exec) report them.
const (
	ExitCannotRun = 126
	ExitNotFound  = 127
)

// NotRunningError says that an instance exists but no process of it runs
// (it is starting, crash-looping, stopping or has ended).
type NotRunningError struct {
	Instance string
	Status   string
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("instance %s is not running (status %s)", e.Instance, e.Status)
}

// IsNotRunning reports whether err is or wraps a *NotRunningError.
func IsNotRunning(err error) bool {
	var nr *NotRunningError
	return errors.As(err, &nr)
}
