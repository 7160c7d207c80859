package kubernetes

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/opshub/opshub/platform"
)

// TestExecAsksThePodsExecSubresource checks the requests the controller
// makes for `opshub exec` and `opshub forward`: a fake API endpoint stands in
// for the API server's pods/exec and pods/portforward and refuses the
// upgrade; what is checked is the path, the verbs (WebSocket GET first, then
// the SPDY POST fallback) and the PodExecOptions in the query. The whole way
// through a real API server is test/e2e's TestKubernetesExecAndForward….
func TestExecAsksThePodsExecSubresource(t *testing.T) {
	var mu sync.Mutex
	type call struct {
		method, path string
		query        url.Values
	}
	var calls []call
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.Path, r.URL.Query()})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web-7f9c-a\" is forbidden: cannot create resource \"pods/exec\"","reason":"Forbidden","code":403}`))
	}))
	defer api.Close()

	one := int32(1)
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "dep-web"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7f9c", UID: "rs-web"}}
	controlledBy(rs, kindDeployment, "web", "dep-web")
	running := pod("shop", "web-7f9c-a", rs, kindReplicaSet)
	running.Status.Phase = corev1.PodRunning
	pending := pod("shop", "web-7f9c-b", rs, kindReplicaSet)
	pending.Status.Phase = corev1.PodPending
	p, _ := runFake(t, Options{}, web, rs, running, pending)

	e, err := NewExecer(p, &rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	_, err = e.Exec(context.Background(), platform.ExecRequest{
		Target:  platform.Target{Project: "shop", Service: "web", Instance: "web-7f9c-a"},
		Command: []string{"sh", "-c", "echo hi"},
		Stdin:   strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr,
	})
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("Exec against a refusing API server: %v, want the API server's refusal", err)
	}
	mu.Lock()
	var methods []string
	for _, c := range calls {
		methods = append(methods, c.method)
		if c.path != "/api/v1/namespaces/shop/pods/web-7f9c-a/exec" {
			t.Errorf("%s %s, want the pod's exec subresource", c.method, c.path)
		}
		q := c.query
		if !slices.Equal(q["command"], []string{"sh", "-c", "echo hi"}) || q.Get("container") != "app" ||
			q.Get("stdin") != "true" || q.Get("stdout") != "true" || q.Get("stderr") != "true" || q.Get("tty") != "" {
			t.Errorf("%s query %v, want the command, container app, stdin, stdout and stderr", c.method, q)
		}
	}
	if !slices.Equal(methods, []string{"GET", "POST"}) {
		t.Errorf("requests %v, want the WebSocket GET, then the SPDY POST fallback", methods)
	}
	calls = nil
	mu.Unlock()

	// Forward asks the pod's portforward subresource the same way.
	if _, err := e.DialInstance(context.Background(), platform.Target{Project: "shop", Service: "web", Instance: "web-7f9c-a"}, 8080); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("DialInstance against a refusing API server: %v, want the API server's refusal", err)
	}
	mu.Lock()
	methods = nil
	for _, c := range calls {
		methods = append(methods, c.method)
		if c.path != "/api/v1/namespaces/shop/pods/web-7f9c-a/portforward" {
			t.Errorf("%s %s, want the pod's portforward subresource", c.method, c.path)
		}
	}
	if !slices.Equal(methods, []string{"GET", "POST"}) {
		t.Errorf("forward requests %v, want the WebSocket GET, then the SPDY POST fallback", methods)
	}
	calls = nil
	mu.Unlock()

	// A pod that does not run is refused before any request.
	_, err = e.Exec(context.Background(), platform.ExecRequest{
		Target:  platform.Target{Project: "shop", Service: "web", Instance: "web-7f9c-b"},
		Command: []string{"true"},
	})
	mu.Lock()
	n := len(calls)
	mu.Unlock()
	if !platform.IsNotRunning(err) || n != 0 {
		t.Errorf("Exec in a Pending pod: %v after %d requests, want a NotRunningError and none", err, n)
	}
	_, err = e.DialInstance(context.Background(), platform.Target{Project: "shop", Service: "web", Instance: "web-7f9c-b"}, 8080)
	mu.Lock()
	n = len(calls)
	mu.Unlock()
	if !platform.IsNotRunning(err) || n != 0 {
		t.Errorf("DialInstance to a Pending pod: %v after %d requests, want a NotRunningError and none", err, n)
	}
}
