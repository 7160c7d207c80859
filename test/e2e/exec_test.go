//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/platform"
	kube "github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/server"
)

// execComponent is the opt-in kustomize component with the exec RBAC.
const execComponent = kustomizeBase + "/exec"

// loadComponent reads the objects of a kustomize Component that lists plain
// resources only, as loadBase does for the base.
func loadComponent(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	return loadKustomization(t, dir, "kustomize.config.k8s.io/v1alpha1", "Component")
}

func TestHelmChartExecRBACRendersTheKustomizeComponent(t *testing.T) {
	component := loadComponent(t, execComponent)
	if len(component) != 2 {
		t.Fatalf("the exec component has %d objects, want a ClusterRole and its binding", len(component))
	}
	withExec := renderChart(t, "--set", "controller.exec.enabled=true")
	// The chart with the exec rule is the base with the component: same
	// objects, nothing else.
	sameObjects(t, append(loadBase(t), component...), withExec)
	for _, obj := range renderChart(t) {
		if strings.Contains(objectKey(obj), "exec") {
			t.Errorf("the default values render %s; exec must be off by default", objectKey(obj))
		}
	}
}

// fakeKubelet plays the kubelet's streaming endpoints for the pods of the
// node execNode: kwok's pods run no processes and kwok serves no exec or
// port-forward, so the API server is pointed at this server instead. It
// speaks the kubelet's own protocol (the kubelet's streaming package): the
// API server authorizes the request, connects here and translates the
// client's WebSocket to it, as it would to a real kubelet.
type fakeKubelet struct {
	srv     *httptest.Server
	backend string // host:port every forwarded port 8080 reaches

	mu       sync.Mutex
	requests []string // path?query of each request
}

func startFakeKubelet(t *testing.T, backend string) *fakeKubelet {
	k := &fakeKubelet{backend: backend}
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		k.record(r)
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeExec(w, r, k, r.PathValue("namespace")+"/"+r.PathValue("pod"), "", r.PathValue("container"),
			r.URL.Query()["command"], opts, time.Minute, 30*time.Second, remotecommand.SupportedStreamingProtocols)
	})
	mux.HandleFunc("/portForward/{namespace}/{pod}", func(w http.ResponseWriter, r *http.Request) {
		k.record(r)
		opts, err := portforward.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		portforward.ServePortForward(w, r, k, r.PathValue("namespace")+"/"+r.PathValue("pod"), "", opts,
			time.Minute, 30*time.Second, portforward.SupportedProtocols)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		k.record(r)
		http.NotFound(w, r)
	})
	k.srv = httptest.NewUnstartedServer(mux)
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKubelet) record(r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests = append(k.requests, r.URL.Path+"?"+r.URL.RawQuery)
}

func (k *fakeKubelet) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.requests)
}

func (k *fakeKubelet) port() int32 {
	_, p, _ := net.SplitHostPort(k.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// ExecInContainer "runs" every command the same way: it names the command,
// container and pod on stdout, copies stdin to stdout, writes a line to
// stderr and exits with 3; on a terminal it reports two sizes and exits 0.
func (k *fakeKubelet) ExecInContainer(ctx context.Context, pod, uid, container string, cmd []string, in io.Reader, out, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	fmt.Fprintf(out, "%s in %s/%s\n", strings.Join(cmd, " "), pod, container)
	if tty { // a terminal: report the first two sizes, then exit 0
		for range 2 {
			select {
			case sz := <-resize:
				fmt.Fprintf(out, "terminal %dx%d\n", sz.Width, sz.Height)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	if in != nil {
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
	}
	if stderr != nil {
		fmt.Fprintln(stderr, "a line on stderr")
	}
	return utilexec.CodeExitError{Err: errors.New("exit status 3"), Code: 3}
}

// PortForward connects port 8080 of every pod to the backend; other ports
// are closed.
func (k *fakeKubelet) PortForward(ctx context.Context, pod, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if port != 8080 {
		return fmt.Errorf("failed to connect to localhost:%d inside pod %s: connection refused", port, pod)
	}
	conn, err := net.Dial("tcp", k.backend)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(conn, stream)
		if c, ok := conn.(*net.TCPConn); ok {
			_ = c.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(stream, conn)
	<-done
	return nil
}

// upgradeLog is a reverse proxy in front of the API server that notes the
// method and upgrade of every exec and portforward request, to show which of
// WebSocket and SPDY the controller used.
type upgradeLog struct {
	mu   sync.Mutex
	seen []string
}

func (u *upgradeLog) proxy(t *testing.T, c *kubetest.Cluster) *httptest.Server {
	target, err := url.Parse(c.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := rest.TLSConfigFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: tlsConfig}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/exec") || strings.HasSuffix(r.URL.Path, "/portforward") {
			u.mu.Lock()
			u.seen = append(u.seen, r.Method+" "+r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]+" "+strings.ToLower(r.Header.Get("Upgrade")))
			u.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (u *upgradeLog) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

// TestKubernetesExecAndForwardNeedTheOptInRBAC runs the controller's exec and
// forward against the real API server as the install's controller account,
// first with the base's RBAC (refused), then with the exec component. kwok
// cannot answer exec or port-forward (its pods run nothing), so the pod runs
// on a node whose kubelet address is a fake kubelet (fakeKubelet) that
// speaks the kubelet's streaming protocol: the test checks the request the
// API server passes on, the command's output and exit code, and bytes
// carried through a forwarded port.
func TestKubernetesExecAndForwardNeedTheOptInRBAC(t *testing.T) {
	ctx := context.Background()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the pod's port, you asked for %s\n", r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	kubelet := startFakeKubelet(t, backend.Listener.Addr().String())

	c := kubetest.Start(t, kubetest.Options{})
	applyAll(t, c.Client, loadBase(t), false)
	if t.Failed() {
		t.FailNow()
	}
	c.Namespace(t, appNamespace)

	// A node no kwok manages, whose kubelet is the fake one.
	const execNode = "exec-node"
	if _, err := c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: execNode}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The control plane may change the new node meanwhile (its taints).
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, execNode, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = kubelet.port()
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
		_, err = c.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	one := int32(1)
	labels := map[string]string{"app": "web"}
	if _, err := c.Client.AppsV1().Deployments(appNamespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: appNamespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{NodeName: execNode, Containers: []corev1.Container{{Name: "app", Image: "demo"}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No kubelet runs the pod: the test says it runs.
	var pod *corev1.Pod
	sinktest.Eventually(t, waitTimeout, "the Deployment's pod exists", func() error {
		pods, err := c.Client.CoreV1().Pods(appNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(pods.Items) != 1 {
			return fmt.Errorf("pods: %v", err)
		}
		pod = &pods.Items[0]
		return nil
	})
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Client.CoreV1().Pods(appNamespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "demo",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
		_, err = c.Client.CoreV1().Pods(appNamespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The controller: its watches as the install's account, its exec and
	// forward through the logging proxy, as the same account.
	controller := as(t, c, "opshub-controller")
	plat, err := kube.New(kube.Options{Client: controller})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- plat.Run(runCtx, 1) }()
	t.Cleanup(func() { stop(); <-ran })
	var upgrades upgradeLog
	proxy := upgrades.proxy(t, c)
	cfg := &rest.Config{Host: proxy.URL, BearerToken: c.Config.BearerToken,
		Impersonate: rest.ImpersonationConfig{UserName: serviceAccountUser("opshub-controller")}}
	execer, err := kube.NewExecer(plat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	target := platform.Target{Project: appNamespace, Service: "web", Instance: pod.Name}
	sinktest.Eventually(t, waitTimeout, "the controller sees the pod", func() error {
		svc, err := plat.Service(ctx, appNamespace, "web")
		if err != nil || len(svc.Instances) != 1 || svc.Instances[0].Name != pod.Name {
			return fmt.Errorf("service %+v: %v", svc, err)
		}
		return nil
	})

	run := func() (code int, stdout, stderr string, err error) {
		var out, errOut bytes.Buffer
		code, err = execer.Exec(ctx, platform.ExecRequest{
			Target:  target,
			Command: []string{"cat", "/etc/hostname"},
			Stdin:   strings.NewReader("typed on stdin\n"),
			Stdout:  &out, Stderr: &errOut,
		})
		return code, out.String(), errOut.String(), err
	}
	forward := func(port int) (string, error) {
		dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		conn, err := execer.DialInstance(dialCtx, target, port)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /through-the-api-server HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}

	t.Run("without the exec component the API server refuses", func(t *testing.T) {
		for _, a := range execAccess {
			if allowed(t, controller, a) {
				t.Errorf("the base lets the controller %s", a)
			}
		}
		if _, _, _, err := run(); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("exec: %v, want the API server's refusal", err)
		}
		if _, err := forward(8080); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("forward: %v, want the API server's refusal", err)
		}
		if got := kubelet.seen(); len(got) != 0 {
			t.Errorf("the kubelet was asked %v; a refused request must not reach it", got)
		}
		// A refused WebSocket upgrade is an upgrade failure: the
		// controller tries SPDY before it reports the refusal.
		want := []string{"GET exec websocket", "POST exec spdy/3.1", "GET portforward websocket", "POST portforward spdy/3.1"}
		if got := upgrades.take(); !slices.Equal(got, want) {
			t.Errorf("the controller asked the API server %v, want %v", got, want)
		}
	})

	applyAll(t, c.Client, loadComponent(t, execComponent), false)
	sinktest.Eventually(t, waitTimeout, "the exec rule applies", func() error {
		if !allowed(t, controller, execAccess[0]) {
			return errors.New("not allowed yet")
		}
		return nil
	})

	t.Run("with the exec component exec reaches the pod's container", func(t *testing.T) {
		for _, a := range execAccess {
			if !allowed(t, controller, a) {
				t.Errorf("the component does not let the controller %s", a)
			}
		}
		for _, a := range []access{
			{verb: "create", resource: "pods", subresource: "attach", ns: appNamespace},
			{verb: "get", resource: "pods", subresource: "proxy", ns: appNamespace},
			{verb: "create", resource: "pods", ns: appNamespace},
		} {
			if allowed(t, controller, a) {
				t.Errorf("the component lets the controller %s", a)
			}
		}
		code, stdout, stderr, err := run()
		if err != nil {
			t.Fatalf("exec: %v", err)
		}
		wantOut := "cat /etc/hostname in " + appNamespace + "/" + pod.Name + "/app\ntyped on stdin\n"
		if code != 3 || stdout != wantOut || stderr != "a line on stderr\n" {
			t.Errorf("exec: code %d, stdout %q, stderr %q; want 3, %q and the stderr line", code, stdout, stderr, wantOut)
		}
		got := kubelet.seen()
		want := "/exec/" + appNamespace + "/" + pod.Name + "/app?"
		if len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Fatalf("the kubelet was asked %v, want one %s…", got, want)
		}
		q, _ := url.ParseQuery(strings.TrimPrefix(got[0], want))
		if !slices.Equal(q["command"], []string{"cat", "/etc/hostname"}) || q.Get("input") != "1" || q.Get("output") != "1" || q.Get("error") != "1" || q.Get("tty") == "1" {
			t.Errorf("the kubelet's exec query %v, want the command with stdin, stdout and stderr and no TTY", q)
		}
		if got := upgrades.take(); !slices.Equal(got, []string{"GET exec websocket"}) {
			t.Errorf("the controller asked the API server %v, want one WebSocket exec (no SPDY fallback)", got)
		}

		// A terminal, its size and a resize reach the container.
		resize := make(chan platform.TermSize, 1)
		resize <- platform.TermSize{Cols: 120, Rows: 40}
		var out bytes.Buffer
		code, err = execer.Exec(ctx, platform.ExecRequest{
			Target: target, Command: []string{"sh"}, Stdout: &out,
			TTY: true, Size: platform.TermSize{Cols: 80, Rows: 24}, Resize: resize,
		})
		wantOut = "sh in " + appNamespace + "/" + pod.Name + "/app\nterminal 80x24\nterminal 120x40\n"
		if err != nil || code != 0 || out.String() != wantOut {
			t.Errorf("exec with a TTY: code %d, %v, output %q; want 0 and %q", code, err, out.String(), wantOut)
		}
		if got := kubelet.seen(); len(got) != 2 || !strings.Contains(got[1], "tty=1") {
			t.Errorf("the kubelet was asked %v, want a second exec with tty=1", got)
		}
		upgrades.take()
	})

	t.Run("with the exec component forward reaches the pod's port", func(t *testing.T) {
		before := len(kubelet.seen())
		body, err := forward(8080)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		if body != "hello from the pod's port, you asked for /through-the-api-server\n" {
			t.Errorf("forwarded HTTP answer %q", body)
		}
		got := kubelet.seen()[before:]
		if len(got) != 1 || !strings.HasPrefix(got[0], "/portForward/"+appNamespace+"/"+pod.Name) {
			t.Errorf("the kubelet was asked %v, want the pod's portForward", got)
		}
		if got := upgrades.take(); !slices.Equal(got, []string{"GET portforward websocket"}) {
			t.Errorf("the controller asked the API server %v, want one WebSocket port-forward (no SPDY fallback)", got)
		}

		// Several connections at once, each its own stream.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				if body, err := forward(8080); err != nil || !strings.HasPrefix(body, "hello") {
					errs <- fmt.Errorf("%q, %v", body, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent forward: %v", err)
		}

		// A closed port: the kubelet's message ends the connection.
		if _, err := forward(9999); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("forward to a closed port: %v, want the kubelet's connection refused", err)
		}
	})
	t.Run("opshub's API carries exec and forward to the pod", func(t *testing.T) {
		// What `opshub exec` and `opshub forward` do against a controller:
		// the API's WebSockets, served by the same Execer.
		api, err := server.New(server.Options{Services: plat, Exec: server.ExecOptions{Execer: execer}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl, err := client.New(srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code, err := cl.Exec(ctx, client.ExecOptions{Project: appNamespace, Service: "web", Instance: pod.Name,
			Command: []string{"env"}, Stdin: strings.NewReader("piped\n"), Stdout: &out, Stderr: &errOut})
		if want := "env in " + appNamespace + "/" + pod.Name + "/app\npiped\n"; err != nil || code != 3 || out.String() != want || errOut.String() != "a line on stderr\n" {
			t.Errorf("opshub exec: code %d, %v, stdout %q, stderr %q; want 3, %q and the stderr line", code, err, out.String(), errOut.String(), want)
		}
		conn, err := cl.Forward(ctx, appNamespace, "web", pod.Name, 8080)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "GET /via-opshub HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		if string(body) != "hello from the pod's port, you asked for /via-opshub\n" {
			t.Errorf("opshub forward: %q", body)
		}
		// A closed port: the API closes the session with the kubelet's
		// reason, which the CLI prints.
		conn, err = cl.Forward(ctx, appNamespace, "web", pod.Name, 9999)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = io.ReadAll(conn)
		var fe *client.ForwardError
		if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "connection refused") {
			t.Errorf("opshub forward to a closed port: %v, want a ForwardError with the kubelet's connection refused", err)
		}
	})
}

// execAccess is what the exec component grants the controller.
var execAccess = []access{
	{verb: "create", resource: "pods", subresource: "exec", ns: appNamespace},
	{verb: "get", resource: "pods", subresource: "exec", ns: appNamespace},
	{verb: "create", resource: "pods", subresource: "portforward", ns: appNamespace},
	{verb: "get", resource: "pods", subresource: "portforward", ns: appNamespace},
}

// allowed asks the API server whether the client's user may do a.
func allowed(t *testing.T, client k8s.Interface, a access) bool {
	t.Helper()
	review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.ns, Name: a.name,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("access review of %s: %v", a, err)
	}
	return review.Status.Allowed
}
