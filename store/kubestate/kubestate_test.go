package kubestate

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// apiServer makes a fake clientset keep resourceVersions as the API server
// does: create refuses an existing name, update and a delete with a
// precondition refuse a stale resourceVersion. timeoutAfterApply makes the
// next update of the head apply and then answer with a timeout, as a
// request cut off on its way back.
type apiServer struct {
	*fake.Clientset
	rv                int
	timeoutAfterApply bool
}

func newAPIServer() *apiServer {
	a := &apiServer{Clientset: fake.NewClientset()}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	tracker := a.Tracker()
	a.PrependReactor("*", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		ns := action.GetNamespace()
		switch action.GetVerb() {
		case "create":
			s := action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
			if _, err := tracker.Get(gvr, ns, s.Name); err == nil {
				return true, nil, apierrors.NewAlreadyExists(gvr.GroupResource(), s.Name)
			}
			a.rv++
			s.ResourceVersion = strconv.Itoa(a.rv)
			return true, s, tracker.Create(gvr, s, ns)
		case "update":
			s := action.(k8stesting.UpdateAction).GetObject().(*corev1.Secret).DeepCopy()
			cur, err := tracker.Get(gvr, ns, s.Name)
			if err != nil {
				return true, nil, err
			}
			if s.ResourceVersion != "" && s.ResourceVersion != cur.(*corev1.Secret).ResourceVersion {
				return true, nil, apierrors.NewConflict(gvr.GroupResource(), s.Name, errors.New("the object has been modified"))
			}
			a.rv++
			s.ResourceVersion = strconv.Itoa(a.rv)
			if err := tracker.Update(gvr, s, ns); err != nil {
				return true, nil, err
			}
			if a.timeoutAfterApply && s.Name == DefaultName {
				a.timeoutAfterApply = false
				return true, nil, apierrors.NewTimeoutError("request did not complete within the allowed duration", 0)
			}
			return true, s, nil
		case "delete":
			act := action.(k8stesting.DeleteActionImpl)
			cur, err := tracker.Get(gvr, ns, act.Name)
			if err != nil {
				return true, nil, err
			}
			if p := act.DeleteOptions.Preconditions; p != nil && p.ResourceVersion != nil && *p.ResourceVersion != cur.(*corev1.Secret).ResourceVersion {
				return true, nil, apierrors.NewConflict(gvr.GroupResource(), act.Name, errors.New("precondition failed"))
			}
			return true, nil, tracker.Delete(gvr, ns, act.Name)
		}
		return false, nil, nil
	})
	return a
}

func TestSecondWriterGetsErrConflict(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer()
	a, b := New(api, "opshub", ""), New(api, "opshub", "")
	for _, r := range []*Replica{a, b} {
		if _, err := r.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Save(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	for _, snapshot := range [][]byte{[]byte("b"), random(t, 1<<20)} {
		if err := b.Save(ctx, snapshot); !errors.Is(err, ErrConflict) {
			t.Fatalf("second writer's Save of %d bytes: %v, want ErrConflict", len(snapshot), err)
		}
	}
	if err := a.Save(ctx, random(t, 1<<20)); err != nil {
		t.Fatalf("first writer after the conflict: %v", err)
	}
	if got := fmt.Sprint(names(t, api.Clientset)); got != "[opshub-state opshub-state-1 opshub-state-2]" {
		t.Fatalf("Secrets %s", got)
	}
}

func TestOwnWriteThatTimedOutIsNotAConflict(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer()
	r := New(api, "opshub", "")
	if _, err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	// The update is applied but its answer is lost: the retry meets a
	// resourceVersion it has not seen, written by itself.
	api.timeoutAfterApply = true
	api.ClearActions()
	if err := r.Save(ctx, []byte("second")); err != nil {
		t.Fatalf("Save whose first answer timed out: %v", err)
	}
	updates := 0
	for _, a := range api.Actions() {
		if a.GetVerb() == "update" {
			updates++
		}
	}
	if updates != 3 {
		t.Fatalf("%d updates of the head; want 3 (applied but timed out, refused as stale, on top of its own)", updates)
	}
	if err := r.Save(ctx, random(t, 1<<20)); err != nil {
		t.Fatalf("next Save: %v", err)
	}
	got, err := New(api, "opshub", "").Load(ctx)
	if err != nil || len(got) != 1<<20 {
		t.Fatalf("Load: %d bytes, %v", len(got), err)
	}
}
