package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/coder/websocket"

	"github.com/opshub/opshub/internal/execwire"
)

// sessionReadLimit bounds one message from the server; the server sends
// output in chunks of at most 32 KiB.
const sessionReadLimit = 1 << 20

// ExecOptions is one command to run in an instance.
type ExecOptions struct {
	Project, Service, Instance string
	// Container is "" for the instance's only (or first) container.
	Container string
	Command   []string
	// Stdin, when not nil, is sent to the command; its EOF closes the
	// command's input.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output (with TTY, all of it
	// on Stdout).
	Stdout, Stderr io.Writer
	TTY            bool
	// Size is the terminal's size at the start; Resize delivers changes.
	Size   TermSize
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize = execwire.TermSize

// SessionError is a session that the server ended without an exit status:
// the instance stopped, the session was idle too long, or the server failed.
type SessionError struct {
	Status websocket.StatusCode
	Reason string
}

func (e *SessionError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("the session ended without an exit status (%s)", e.Status)
	}
	return "the session ended: " + e.Reason
}

// Exec runs a command in a running instance over the exec WebSocket and
// returns the command's exit code once it has ended and all its output was
// written.
func (c *Client) Exec(ctx context.Context, opts ExecOptions) (int, error) {
	q := url.Values{"command": opts.Command}
	if opts.Stdin != nil {
		q.Set("stdin", "1")
	}
	if opts.TTY {
		q.Set("tty", "1")
		if opts.Size.Cols > 0 && opts.Size.Rows > 0 {
			q.Set("cols", strconv.Itoa(int(opts.Size.Cols)))
			q.Set("rows", strconv.Itoa(int(opts.Size.Rows)))
		}
	}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := c.dialSession(ctx, instancePath(opts.Project, opts.Service, opts.Instance, "exec"), q, []string{execwire.Subprotocol})
	if err != nil {
		return 0, err
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != execwire.Subprotocol {
		return 0, fmt.Errorf("the server does not speak %s", execwire.Subprotocol)
	}
	send := func(stream byte, p []byte) error {
		return conn.Write(ctx, websocket.MessageBinary, execwire.Frame(stream, p))
	}
	if opts.Stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := opts.Stdin.Read(buf)
				if n > 0 && send(execwire.Stdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					_ = send(execwire.Stdin, nil) // EOF
					return
				}
			}
		}()
	}
	if opts.Resize != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case sz, ok := <-opts.Resize:
					if !ok {
						return
					}
					body, _ := json.Marshal(sz)
					if send(execwire.Resize, body) != nil {
						return
					}
				}
			}
		}()
	}
	stdout, stderr := discardNil(opts.Stdout), discardNil(opts.Stderr)
	exit := -1
	for {
		typ, msg, err := conn.Read(ctx)
		if err != nil {
			status := websocket.CloseStatus(err)
			if exit >= 0 && status == websocket.StatusNormalClosure {
				return exit, nil
			}
			if status != -1 {
				var ce websocket.CloseError
				errors.As(err, &ce)
				return 0, &SessionError{Status: status, Reason: ce.Reason}
			}
			if exit >= 0 {
				return exit, nil // the exit status arrived; the close was lost
			}
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("exec session: %w", err)
		}
		if typ != websocket.MessageBinary || len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case execwire.Stdout:
			if _, err := stdout.Write(msg[1:]); err != nil {
				return 0, err
			}
		case execwire.Stderr:
			if _, err := stderr.Write(msg[1:]); err != nil {
				return 0, err
			}
		case execwire.Exit:
			var st execwire.ExitStatus
			if err := json.Unmarshal(msg[1:], &st); err != nil {
				return 0, fmt.Errorf("exec session: bad exit status %q: %w", msg[1:], err)
			}
			exit = st.ExitCode
		}
	}
}

// Forward opens one connection to port of an instance, carried over the
// forward WebSocket. Closing it ends the session.
func (c *Client) Forward(ctx context.Context, project, service, instance string, port int) (net.Conn, error) {
	q := url.Values{"port": {strconv.Itoa(port)}}
	conn, err := c.dialSession(ctx, instancePath(project, service, instance, "forward"), q, nil)
	if err != nil {
		return nil, err
	}
	return forwardConn{websocket.NetConn(ctx, conn, websocket.MessageBinary)}, nil
}

// ForwardError is the read error of a forwarded connection whose instance
// side failed after it was opened (on Kubernetes, the kubelet could not
// connect to the port): the server's reason.
type ForwardError struct{ Reason string }

func (e *ForwardError) Error() string { return e.Reason }

// forwardConn turns the server's bad-gateway close into a *ForwardError.
type forwardConn struct{ net.Conn }

func (f forwardConn) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	var ce websocket.CloseError
	if errors.As(err, &ce) && ce.Code == websocket.StatusBadGateway {
		err = &ForwardError{Reason: ce.Reason}
	}
	return n, err
}

func instancePath(project, service, instance, what string) string {
	return "/api/v1/services/" + url.PathEscape(project) + "/" + url.PathEscape(service) +
		"/instances/" + url.PathEscape(instance) + "/" + what
}

// dialSession opens a WebSocket to path, turning a refusal into an
// *APIError with the server's message.
func (c *Client) dialSession(ctx context.Context, path string, q url.Values, protocols []string) (*websocket.Conn, error) {
	u := *c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: h, Subprotocols: protocols})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			return nil, apiError(resp.StatusCode, body)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach opshub at %s (is `opshub run` running? set --server or OPSHUB_SERVER): %w", c.base, err)
	}
	conn.SetReadLimit(sessionReadLimit)
	return conn, nil
}

func discardNil(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
