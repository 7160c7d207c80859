package kubernetes

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// runFake runs a platform over a fake clientset holding objects, until the
// test ends. The fake stands in for the caches: what is tested is the
// translation of objects, not the API server's behaviour (test/e2e has it).
func runFake(t *testing.T, opts Options, objects ...runtime.Object) (*Platform, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objects...)
	opts.Client = client
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 1) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := p.waitSynced(wait); err != nil {
		t.Fatal(err)
	}
	return p, client
}
