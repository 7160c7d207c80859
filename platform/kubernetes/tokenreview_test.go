package kubernetes

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestTokenReviewerAllowsTheControllerAndCachesAnswers(t *testing.T) {
	client := fake.NewClientset()
	var reviews atomic.Int32
	users := map[string]string{
		"controller-token": ControllerIdentity("opshub"),
		"other-token":      "system:serviceaccount:shop:default",
	}
	client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		reviews.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).DeepCopy()
		if u, ok := users[tr.Spec.Token]; ok {
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: u}}
		}
		return true, tr, nil
	})
	clock := &fakeClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	tr, err := NewTokenReviewer(TokenReviewerOptions{Client: client, Allowed: []string{ControllerIdentity("opshub")}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		token, identity string
		allowed         bool
	}{
		{"controller-token", "system:serviceaccount:opshub:opshub-controller", true},
		{"other-token", "system:serviceaccount:shop:default", false},
		{"forged-token", "", false},
	} {
		id, ok, err := tr.Review(ctx, tc.token)
		if err != nil || id != tc.identity || ok != tc.allowed {
			t.Errorf("%s: got %q %t %v, want %q %t", tc.token, id, ok, err, tc.identity, tc.allowed)
		}
	}
	if n := reviews.Load(); n != 3 {
		t.Fatalf("%d reviews for three tokens", n)
	}
	for range 5 {
		_, _, _ = tr.Review(ctx, "controller-token")
		_, _, _ = tr.Review(ctx, "forged-token")
	}
	if n := reviews.Load(); n != 3 {
		t.Errorf("asking again within the cache's lifetime made %d reviews, want 3", n)
	}
	clock.Add(reviewRefusedTTL + time.Second)
	_, _, _ = tr.Review(ctx, "controller-token")
	_, _, _ = tr.Review(ctx, "forged-token")
	if n := reviews.Load(); n != 4 {
		t.Errorf("after the refusal expired: %d reviews, want 4 (the refused token only)", n)
	}
	clock.Add(reviewAcceptedTTL)
	_, _, _ = tr.Review(ctx, "controller-token")
	if n := reviews.Load(); n != 5 {
		t.Errorf("after the acceptance expired: %d reviews, want 5", n)
	}
}
