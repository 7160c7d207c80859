package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/opshub/opshub/platform"
)

// Execer runs commands in pods through the API server's pods/exec
// subresource with client-go's remotecommand, and opens connections to
// their ports through pods/portforward with client-go's portforward: both
// WebSocket first, SPDY when the API server refuses the WebSocket upgrade.
// It needs `create` and `get` on pods/exec and pods/portforward (the
// WebSocket is a GET, SPDY a POST); the install grants them only when asked
// (docs/exec.md).
type Execer struct {
	p    *Platform
	cfg  *rest.Config
	core rest.Interface
}

// NewExecer prepares exec for the pods of p, through the API server cfg
// names. It makes no request.
func NewExecer(p *Platform, cfg *rest.Config) (*Execer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes exec: %w", err)
	}
	return &Execer{p: p, cfg: cfg, core: cs.CoreV1().RESTClient()}, nil
}

// RESTConfig loads the same configuration NewClient connects with.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = userAgent
	return cfg, nil
}

// pod finds the running pod a target names, and the container to use.
func (e *Execer) pod(ctx context.Context, t platform.Target) (*corev1.Pod, string, error) {
	w, err := e.p.find(ctx, t.Project, t.Service)
	if err != nil {
		return nil, "", err
	}
	pod, err := e.p.pods.Pods(w.namespace).Get(t.Instance)
	if err != nil {
		return nil, "", fmt.Errorf("service %s/%s has no instance %q: %w", t.Project, t.Service, t.Instance, platform.ErrNotFound)
	}
	container := t.Container
	if container == "" && len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	found := false
	for _, c := range pod.Spec.Containers {
		found = found || c.Name == container
	}
	if !found {
		return nil, "", fmt.Errorf("instance %s has no container %q: %w", pod.Name, container, platform.ErrNotFound)
	}
	if pod.Status.Phase != corev1.PodRunning {
		return nil, "", &platform.NotRunningError{Instance: pod.Name, Status: string(pod.Status.Phase)}
	}
	return pod, container, nil
}

// Exec runs the command in the pod's container and returns its exit code.
func (e *Execer) Exec(ctx context.Context, req platform.ExecRequest) (int, error) {
	if len(req.Command) == 0 {
		return 0, errors.New("exec: no command")
	}
	pod, container, err := e.pod(ctx, req.Target)
	if err != nil {
		return 0, err
	}
	opts := &corev1.PodExecOptions{
		Container: container,
		Command:   req.Command,
		Stdin:     req.Stdin != nil,
		Stdout:    true,
		Stderr:    !req.TTY,
		TTY:       req.TTY,
	}
	u := e.core.Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).
		SubResource("exec").VersionedParams(opts, scheme.ParameterCodec).URL()
	ws, err := remotecommand.NewWebSocketExecutor(e.cfg, "GET", u.String())
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.cfg, "POST", u)
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, shouldFallBack)
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	stream := remotecommand.StreamOptions{Stdin: req.Stdin, Stdout: req.Stdout, Tty: req.TTY}
	if !req.TTY {
		stream.Stderr = req.Stderr
	}
	if req.TTY {
		stream.TerminalSizeQueue = newSizeQueue(ctx, req.Size, req.Resize)
	}
	err = exec.StreamWithContext(ctx, stream)
	var exitErr utilexec.CodeExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		return exitErr.Code, nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	}
	// The runtime's words when the program cannot start, as kubectl shows
	// them; the code is a shell's.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not found") || strings.Contains(msg, "no such file"):
		fmt.Fprintf(orDiscard(req.Stderr), "opshub exec: %s\n", msg)
		return platform.ExitNotFound, nil
	case strings.Contains(msg, "permission denied"):
		fmt.Fprintf(orDiscard(req.Stderr), "opshub exec: %s\n", msg)
		return platform.ExitCannotRun, nil
	}
	return 0, fmt.Errorf("exec in %s/%s: %w", pod.Namespace, pod.Name, err)
}

// shouldFallBack says when the WebSocket attempt failed because the API
// server (or a proxy) would not upgrade it, so that SPDY is tried. Since
// client-go 0.36 that failure comes from k8s.io/streaming; apimachinery's
// predicate would never match and never fall back.
func shouldFallBack(err error) bool {
	return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
}

// DialInstance opens one connection to port inside the pod through the API
// server's pods/portforward: one streaming connection per forwarded TCP
// connection, as kubectl port-forward opens one stream pair per connection.
// The connection to the port is made by the kubelet once the streams
// exist, so a closed port shows as the connection ending with the
// kubelet's message as the read error, not as an error here.
func (e *Execer) DialInstance(ctx context.Context, t platform.Target, port int) (io.ReadWriteCloser, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("forward: port %d is not a TCP port", port)
	}
	pod, _, err := e.pod(ctx, t)
	if err != nil {
		return nil, err
	}
	u := e.core.Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(e.cfg)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, "POST", u)
	ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, e.cfg)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	dialer = portforward.NewFallbackDialerForStreaming(ws, dialer, shouldFallBack)

	type dialed struct {
		conn     httpstream.Connection
		protocol string
		err      error
	}
	ch := make(chan dialed, 1)
	go func() {
		conn, protocol, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
		ch <- dialed{conn, protocol, err}
	}()
	var d dialed
	select {
	case d = <-ch:
	case <-ctx.Done():
		go func() { // the dial has no context: close what it opens
			if d := <-ch; d.conn != nil {
				d.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if d.err != nil {
		return nil, fmt.Errorf("forward to %s/%s port %d: %w", pod.Namespace, pod.Name, port, d.err)
	}
	if d.protocol != portforward.PortForwardProtocolV1Name {
		d.conn.Close()
		return nil, fmt.Errorf("forward to %s/%s: the API server speaks %q, not %q", pod.Namespace, pod.Name, d.protocol, portforward.PortForwardProtocolV1Name)
	}
	pf, err := newForwardConn(d.conn, port)
	if err != nil {
		d.conn.Close()
		return nil, fmt.Errorf("forward to %s/%s port %d: %w", pod.Namespace, pod.Name, port, err)
	}
	return pf, nil
}

// forwardConn is one forwarded TCP connection: the data stream of a
// portforward connection, and its error stream, on which the kubelet says
// why it could not connect.
type forwardConn struct {
	conn      httpstream.Connection
	data      httpstream.Stream
	errStream httpstream.Stream
	remoteErr chan error // the error stream's message as an error, or nil; then closed
	closeOnce sync.Once
}

func newForwardConn(conn httpstream.Connection, port int) (*forwardConn, error) {
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(port))
	headers.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := conn.CreateStream(headers)
	if err != nil {
		return nil, fmt.Errorf("error stream: %w", err)
	}
	errStream.Close() // nothing is written to it
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := conn.CreateStream(headers)
	if err != nil {
		return nil, fmt.Errorf("data stream: %w", err)
	}
	f := &forwardConn{conn: conn, data: data, errStream: errStream, remoteErr: make(chan error, 1)}
	go func() {
		msg, err := io.ReadAll(errStream)
		switch {
		case len(msg) > 0:
			f.remoteErr <- errors.New(strings.TrimSpace(string(msg)))
		case err != nil:
			f.remoteErr <- err
		}
		close(f.remoteErr)
	}()
	return f, nil
}

// Read returns the pod's bytes; when the kubelet ended the connection with
// an error (the port is closed), that error instead of io.EOF.
func (f *forwardConn) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if err == io.EOF {
		select {
		case rerr, ok := <-f.remoteErr:
			if ok && rerr != nil {
				return n, fmt.Errorf("forward: %w", rerr)
			}
		case <-f.conn.CloseChan():
		}
	}
	return n, err
}

func (f *forwardConn) Write(p []byte) (int, error) { return f.data.Write(p) }

// Close ends this connection: the data stream is reset (unsent bytes are
// dropped) and the streaming connection closed.
func (f *forwardConn) Close() error {
	f.closeOnce.Do(func() {
		_ = f.data.Reset()
		f.conn.RemoveStreams(f.data, f.errStream)
		f.conn.Close()
	})
	return nil
}

// sizeQueue hands the terminal's sizes to remotecommand.
type sizeQueue struct {
	ctx   context.Context
	first *remotecommand.TerminalSize
	ch    <-chan platform.TermSize
}

func newSizeQueue(ctx context.Context, first platform.TermSize, ch <-chan platform.TermSize) *sizeQueue {
	q := &sizeQueue{ctx: ctx, ch: ch}
	if first.Cols > 0 && first.Rows > 0 {
		q.first = &remotecommand.TerminalSize{Width: first.Cols, Height: first.Rows}
	}
	return q
}

// Next returns the next size, or nil when the session ends.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if q.first != nil {
		f := q.first
		q.first = nil
		return f
	}
	select {
	case <-q.ctx.Done():
		return nil
	case sz, ok := <-q.ch:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: sz.Cols, Height: sz.Rows}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

var _ platform.Execer = (*Execer)(nil)
