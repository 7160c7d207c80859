package kubernetes

import (
	"context"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRegistrationKeepsTheCollectorsLease(t *testing.T) {
	ctx := context.Background()
	old := "collector-old"
	client := fake.NewClientset(&coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "opshub", Name: "opshub-collector-node-b"},
		Spec:       coordv1.LeaseSpec{HolderIdentity: &old},
	})
	clock := &fakeClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	for _, node := range []string{"node-a", "node-b"} {
		r, err := NewRegistration(RegistrationOptions{
			Client: client, Namespace: "opshub", Node: node, URL: "http://10.1.2.3:7421", Holder: "collector-" + node, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Renew(ctx); err != nil {
			t.Fatalf("%s: first renewal: %v", node, err)
		}
		first := clock.Now()
		clock.Add(DefaultLeaseRenew)
		if err := r.Renew(ctx); err != nil {
			t.Fatalf("%s: second renewal: %v", node, err)
		}
		l, err := client.CoordinationV1().Leases("opshub").Get(ctx, "opshub-collector-"+node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"app.kubernetes.io/name": "opshub", "app.kubernetes.io/component": "collector", "opshub.dev/node": node} {
			if l.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", node, k, l.Labels[k], v)
			}
		}
		if u := l.Annotations["opshub.dev/url"]; u != "http://10.1.2.3:7421" {
			t.Errorf("%s: url annotation %q", node, u)
		}
		s := l.Spec
		if s.HolderIdentity == nil || *s.HolderIdentity != "collector-"+node || s.LeaseDurationSeconds == nil || *s.LeaseDurationSeconds != 30 {
			t.Errorf("%s: holder and duration %+v", node, s)
		}
		if s.RenewTime == nil || !s.RenewTime.Time.Equal(clock.Now()) || s.AcquireTime == nil || !s.AcquireTime.Time.Equal(first) {
			t.Errorf("%s: renewed %v, acquired %v; want %v and %v", node, s.RenewTime, s.AcquireTime, clock.Now(), first)
		}
	}
}
