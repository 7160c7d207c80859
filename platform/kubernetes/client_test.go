package kubernetes

import (
	"os"
	"path/filepath"
	"testing"
)

// The controller's client is not held to client-go's default 5 requests a
// second: NewClientWith applies the rate it is given.
func TestClientRate(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		opts ClientOptions
		qps  float32
	}{{ClientOptions{QPS: 50, Burst: 100}, 50}, {ClientOptions{}, 5}} {
		client, err := NewClientWith(kubeconfig, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := client.CoreV1().RESTClient().GetRateLimiter().QPS(); got != tt.qps {
			t.Errorf("%+v: client's rate %g a second, want %g", tt.opts, got, tt.qps)
		}
	}
}
