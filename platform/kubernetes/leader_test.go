package kubernetes

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/opshub/opshub/internal/sinktest"
)

// journal records what candidates did, in order.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.lines = append(j.lines, s)
	j.mu.Unlock()
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// candidate runs one elector whose lead function journals its start and end
// and holds until its context ends.
type candidate struct {
	e    *Elector
	stop context.CancelFunc
	done chan error
}

func startCandidate(t *testing.T, client *fake.Clientset, id string, j *journal) *candidate {
	t.Helper()
	e, err := NewElector(LeaderOptions{
		Client: client, Namespace: "opshub", Name: "opshub-controller", Identity: id,
		LeaseDuration: 600 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{e: e, stop: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- e.Run(ctx, func(ctx context.Context) error {
			j.add(id + " leads")
			<-ctx.Done()
			j.add(id + " stops")
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

func TestElectorHandsOverOnlyAfterTheLeaderStopped(t *testing.T) {
	client := fake.NewClientset()
	j := &journal{}
	a := startCandidate(t, client, "a", j)
	sinktest.WaitFor(t, 20*time.Second, "a leads", a.e.Leading)
	b := startCandidate(t, client, "b", j)
	sinktest.WaitFor(t, 20*time.Second, "b sees a as the leader", func() bool { return b.e.Leader() == "a" })
	if b.e.Leading() {
		t.Fatal("b leads while a holds the lease")
	}

	a.stop()
	if err := <-a.done; err != nil {
		t.Fatalf("a stopped through its context: Run = %v, want nil", err)
	}
	a.done <- nil // for the cleanup
	sinktest.WaitFor(t, 20*time.Second, "b leads", b.e.Leading)
	if got, want := j.get(), []string{"a leads", "a stops", "b leads"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
	lease, err := client.CoordinationV1().Leases("opshub").Get(context.Background(), "opshub-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "b" {
		t.Errorf("lease holder = %v, want b", lease.Spec.HolderIdentity)
	}
}

func TestElectorStopsLeadingWhenTheLeaseCannotBeRenewed(t *testing.T) {
	client := fake.NewClientset()
	var (
		mu   sync.Mutex
		deny bool
	)
	client.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if deny {
			return true, nil, apierrors.NewServiceUnavailable("etcd is away")
		}
		return false, nil, nil
	})
	j := &journal{}
	a := startCandidate(t, client, "a", j)
	sinktest.WaitFor(t, 20*time.Second, "a leads", a.e.Leading)
	mu.Lock()
	deny = true
	mu.Unlock()

	select {
	case err := <-a.done:
		if !errors.Is(err, ErrLeadershipLost) {
			t.Errorf("Run = %v, want ErrLeadershipLost", err)
		}
		a.done <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the lease could not be renewed")
	}
	if a.e.Leading() {
		t.Error("still leading")
	}
	if got, want := j.get(), []string{"a leads", "a stops"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
}

func TestElectorReturnsTheLeadError(t *testing.T) {
	client := fake.NewClientset()
	e, err := NewElector(LeaderOptions{
		Client: client, Namespace: "opshub", Name: "opshub-controller", Identity: "a",
		LeaseDuration: 600 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("state did not load")
	if err := e.Run(context.Background(), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Run = %v, want the lead error", err)
	}
	// The Lease was released: its holder is empty.
	lease, err := client.CoordinationV1().Leases("opshub").Get(context.Background(), "opshub-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease holder = %q after the leader failed, want none", *h)
	}
}

func TestNewElectorChecksTheTimes(t *testing.T) {
	_, err := NewElector(LeaderOptions{
		Client: fake.NewClientset(), Namespace: "opshub", Name: "l", Identity: "a",
		LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
	})
	if err == nil {
		t.Error("renewDeadline equal to leaseDuration was accepted")
	}
}
