package kubestate

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The fake clientset does not check resourceVersions; the fencing is
// proven against a real API server in test/e2e (TestStateInSecrets). These
// tests cover the layout and the retry policy.

func names(t *testing.T, client *fake.Clientset) []string {
	t.Helper()
	list, err := client.CoreV1().Secrets("opshub").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSnapshotsRoundTripInlineAndInChunks(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	r := New(client, "opshub", "")
	if got, err := r.Load(ctx); err != nil || got != nil {
		t.Fatalf("Load of nothing: %d bytes, %v", len(got), err)
	}
	for _, tc := range []struct {
		name     string
		snapshot []byte
		secrets  string
	}{
		{"compressible, inline", bytes.Repeat([]byte("bbolt page "), 300_000), "[opshub-state]"},
		{"random, 3 chunks", random(t, 2<<20), "[opshub-state opshub-state-1 opshub-state-2 opshub-state-3]"},
		{"random, 2 other chunks", random(t, 1<<20), "[opshub-state opshub-state-4 opshub-state-5]"},
		{"small, inline", []byte("tiny"), "[opshub-state]"},
	} {
		if err := r.Save(ctx, tc.snapshot); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := fmt.Sprint(names(t, client)); got != tc.secrets {
			t.Fatalf("%s: Secrets %s, want %s", tc.name, got, tc.secrets)
		}
		got, err := New(client, "opshub", "").Load(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.snapshot) {
			t.Fatalf("%s: loaded %d bytes that differ from the %d saved", tc.name, len(got), len(tc.snapshot))
		}
	}
}

func TestLoadRetriesUntilTheAPIAnswers(t *testing.T) {
	client := fake.NewClientset()
	if err := New(client, "opshub", "").Save(context.Background(), []byte("state")); err != nil {
		t.Fatal(err)
	}
	failures := 3
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewServiceUnavailable("etcd leader changed")
		}
		return false, nil, nil
	})
	got, err := New(client, "opshub", "").Load(context.Background())
	if err != nil || string(got) != "state" {
		t.Fatalf("Load after 3 unavailable answers: %q, %v", got, err)
	}
}

func TestLoadGivesUpOnForbiddenAndWhenCtxEnds(t *testing.T) {
	client := fake.NewClientset()
	gr := schema.GroupResource{Resource: "secrets"}
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(gr, "opshub-state", errors.New("no RBAC"))
	})
	if _, err := New(client, "opshub", "").Load(context.Background()); !apierrors.IsForbidden(err) {
		t.Fatalf("Load when forbidden: %v", err)
	}

	down := fake.NewClientset()
	down.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("down")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := New(down, "opshub", "").Load(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "down") {
		t.Fatalf("Load against a down API: %v, want the deadline and the last error", err)
	}
}

func TestCorruptStateFailsLoad(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	if err := New(client, "opshub", "").Save(ctx, bytes.Repeat([]byte("x"), 1000)); err != nil {
		t.Fatal(err)
	}
	s, err := client.CoreV1().Secrets("opshub").Get(ctx, DefaultName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data[dataKey][len(s.Data[dataKey])-1] ^= 0xff
	if _, err := client.CoreV1().Secrets("opshub").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = New(client, "opshub", "").Load(ctx)
	if !errors.Is(err, errCorrupt) {
		t.Fatalf("Load of a damaged head: %v, want a checksum error", err)
	}
}
