package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/opshub/opshub/platform"
)

// Execer runs commands in pods through the API server's pods/exec
// subresource with client-go's remotecommand: WebSocket first, SPDY when
// the API server refuses the WebSocket upgrade. It needs `create` (and, for
// older API servers, `get`) on pods/exec.
//
// DialInstance (pods/portforward) is not built yet: it answers an error
// saying so.
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
	// Since client-go 0.36 the upgrade failure comes from k8s.io/streaming;
	// apimachinery's predicate would never match and never fall back.
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
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

// DialInstance is not built on Kubernetes yet.
func (e *Execer) DialInstance(ctx context.Context, t platform.Target, port int) (io.ReadWriteCloser, error) {
	if _, _, err := e.pod(ctx, t); err != nil {
		return nil, err
	}
	return nil, errors.New("forward is not available on Kubernetes yet; use kubectl port-forward")
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
