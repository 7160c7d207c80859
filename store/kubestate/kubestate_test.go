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
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/opshub/opshub/store"
)

// The fake clientset does not check resourceVersions; the fencing is
// proven against a real API server in test/e2e (TestStateInSecrets). These
// tests cover the layout and the retry policy.

// wantSecrets fails t unless the namespace holds exactly the Secrets named
// want, in name order.
func wantSecrets(t *testing.T, client *fake.Clientset, want ...string) {
	t.Helper()
	list, err := client.CoreV1().Secrets("opshub").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list.Items {
		got = append(got, s.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Secrets %v, want %v", got, want)
	}
}

// save stores snapshot as a checkpoint that holds no record.
func save(ctx context.Context, r *Replica, snapshot []byte) error {
	_, err := r.Checkpoint(ctx, snapshot, 0)
	return err
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
	if got, err := r.Load(ctx); err != nil || got.Snapshot != nil || got.Log != nil {
		t.Fatalf("Load of nothing: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name     string
		snapshot []byte
		secrets  []string
	}{
		{"compressible, inline", bytes.Repeat([]byte("bbolt page "), 300_000), []string{"opshub-state"}},
		{"random, 3 chunks", random(t, 2<<20), []string{"opshub-state", "opshub-state-1", "opshub-state-2", "opshub-state-3"}},
		{"random, 2 other chunks", random(t, 1<<20), []string{"opshub-state", "opshub-state-4", "opshub-state-5"}},
		{"small, inline", []byte("tiny"), []string{"opshub-state"}},
	} {
		if err := save(ctx, r, tc.snapshot); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		t.Run(tc.name, func(t *testing.T) { wantSecrets(t, client, tc.secrets...) })
		got, err := New(client, "opshub", "").Load(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got.Snapshot, tc.snapshot) {
			t.Fatalf("%s: loaded %d bytes that differ from the %d saved", tc.name, len(got.Snapshot), len(tc.snapshot))
		}
	}
}

func TestLoadRetriesUntilTheAPIAnswers(t *testing.T) {
	client := fake.NewClientset()
	if err := save(context.Background(), New(client, "opshub", ""), []byte("state")); err != nil {
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
	if err != nil || string(got.Snapshot) != "state" {
		t.Fatalf("Load after 3 unavailable answers: %q, %v", got.Snapshot, err)
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
	if err := save(ctx, New(client, "opshub", ""), bytes.Repeat([]byte("x"), 1000)); err != nil {
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
	a, b := loaded(t, api), loaded(t, api)
	if err := save(ctx, a, []byte("a")); err != nil {
		t.Fatal(err)
	}
	for _, snapshot := range [][]byte{[]byte("b"), random(t, 1<<20)} {
		if err := save(ctx, b, snapshot); !errors.Is(err, ErrConflict) {
			t.Fatalf("second writer's Save of %d bytes: %v, want ErrConflict", len(snapshot), err)
		}
	}
	if err := save(ctx, a, random(t, 1<<20)); err != nil {
		t.Fatalf("first writer after the conflict: %v", err)
	}
	wantSecrets(t, api.Clientset, "opshub-state", "opshub-state-1", "opshub-state-2")
}

func TestOwnWriteThatTimedOutIsNotAConflict(t *testing.T) {
	ctx, api, r := startLoaded(t)
	if err := save(ctx, r, []byte("first")); err != nil {
		t.Fatal(err)
	}
	// The update is applied but its answer is lost: the retry meets a
	// resourceVersion it has not seen, written by itself.
	api.timeoutAfterApply = true
	api.ClearActions()
	if err := save(ctx, r, []byte("second")); err != nil {
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
	if err := save(ctx, r, random(t, 1<<20)); err != nil {
		t.Fatalf("next Save: %v", err)
	}
	got, err := New(api, "opshub", "").Load(ctx)
	if err != nil || len(got.Snapshot) != 1<<20 {
		t.Fatalf("Load: %d bytes, %v", len(got.Snapshot), err)
	}
}

// loaded returns a Replica on client that has loaded the state.
// startLoaded is a test's API server and a Replica that has loaded from it.
func startLoaded(t *testing.T) (context.Context, *apiServer, *Replica) {
	t.Helper()
	api := newAPIServer()
	return context.Background(), api, loaded(t, api)
}

func loaded(t *testing.T, client kubernetes.Interface) *Replica {
	t.Helper()
	r := New(client, "opshub", "")
	if _, err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func records(from, to uint64, size int) []store.Record {
	var out []store.Record
	for seq := from; seq <= to; seq++ {
		out = append(out, store.Record{Seq: seq, Data: []byte(fmt.Sprintf("record %d %s", seq, strings.Repeat("x", size)))})
	}
	return out
}

func seqs(l store.Loaded) string {
	var out []string
	for _, r := range l.Log {
		if string(r.Data) != fmt.Sprintf("record %d %s", r.Seq, strings.TrimPrefix(string(r.Data), fmt.Sprintf("record %d ", r.Seq))) {
			return "bad data"
		}
		out = append(out, strconv.FormatUint(r.Seq, 10))
	}
	return strings.Join(out, ",")
}

func TestLogAppendsAndCheckpointsDropWhatTheyHold(t *testing.T) {
	ctx, api, r := startLoaded(t)
	// A log without any checkpoint.
	if _, err := r.Append(ctx, records(1, 3, 10)); err != nil {
		t.Fatal(err)
	}
	// A batch that repeats records already held.
	n, err := r.Append(ctx, records(2, 5, 10))
	if err != nil {
		t.Fatal(err)
	}
	got, err := New(api, "opshub", "").Load(ctx)
	if err != nil || got.Snapshot != nil || seqs(got) != "1,2,3,4,5" || got.LogBytes != n {
		t.Fatalf("Load: %d-byte snapshot, records %s, %d log bytes (Append said %d), %v", len(got.Snapshot), seqs(got), got.LogBytes, n, err)
	}
	if _, err := r.Append(ctx, records(7, 7, 10)); err == nil || !strings.Contains(err.Error(), "record 7 does not follow record 5") {
		t.Fatalf("Append with a gap: %v", err)
	}
	// A checkpoint through 4 keeps record 5; records after go on.
	if _, err := r.Checkpoint(ctx, random(t, 2<<20), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append(ctx, records(4, 6, 10)); err != nil {
		t.Fatal(err)
	}
	got, err = New(api, "opshub", "").Load(ctx)
	if err != nil || len(got.Snapshot) != 2<<20 || seqs(got) != "5,6" {
		t.Fatalf("Load after the checkpoint: %d-byte snapshot, records %s, %v", len(got.Snapshot), seqs(got), err)
	}
	if _, err := r.Checkpoint(ctx, []byte("small"), 6); err != nil {
		t.Fatal(err)
	}
	got, err = New(api, "opshub", "").Load(ctx)
	if err != nil || string(got.Snapshot) != "small" || len(got.Log) != 0 || got.LogBytes != 0 {
		t.Fatalf("Load after the second checkpoint: %q, records %s, %v", got.Snapshot, seqs(got), err)
	}
	wantSecrets(t, api.Clientset, "opshub-state")
}

func TestFullLogIsErrLogFull(t *testing.T) {
	ctx, _, r := startLoaded(t)
	seq := uint64(1)
	var err error
	for ; err == nil; seq++ {
		rec := []store.Record{{Seq: seq, Data: random(t, 64<<10)}}
		_, err = r.Append(ctx, rec)
	}
	if !errors.Is(err, store.ErrLogFull) {
		t.Fatalf("Append past the head's room: %v, want store.ErrLogFull", err)
	}
	if held := int(seq - 2); held*64 < 700 || held*64 > (HeadSize-InlineSize)>>10 {
		t.Fatalf("the log was full after %d records of 64 KiB", held)
	}
	// A checkpoint makes room.
	if _, err := r.Checkpoint(ctx, []byte("all of it"), seq-2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append(ctx, []store.Record{{Seq: seq - 1, Data: random(t, 64<<10)}}); err != nil {
		t.Fatal(err)
	}
}

func TestSecondWriterGetsErrConflictOnAppendAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer()
	a, b := loaded(t, api), loaded(t, api)
	if _, err := a.Append(ctx, records(1, 2, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, records(1, 1, 10)); !errors.Is(err, ErrConflict) {
		t.Fatalf("the second writer's Append: %v, want ErrConflict", err)
	}
	for _, snapshot := range [][]byte{[]byte("b"), random(t, 1<<20)} {
		if _, err := b.Checkpoint(ctx, snapshot, 1); !errors.Is(err, ErrConflict) {
			t.Fatalf("the second writer's Checkpoint of %d bytes: %v, want ErrConflict", len(snapshot), err)
		}
	}
	if _, err := a.Append(ctx, records(3, 3, 10)); err != nil {
		t.Fatalf("the first writer after the conflict: %v", err)
	}
	// A writer that loaded a head which moved on since.
	c := loaded(t, api)
	if _, err := a.Append(ctx, records(4, 4, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, records(4, 4, 10)); !errors.Is(err, ErrConflict) {
		t.Fatalf("Append on a head that moved: %v, want ErrConflict", err)
	}
	if _, err := c.Checkpoint(ctx, []byte("c"), 3); !errors.Is(err, ErrConflict) {
		t.Fatalf("checkpoint on a head that moved: %v, want ErrConflict", err)
	}
	got, err := New(api, "opshub", "").Load(ctx)
	if err != nil || got.Snapshot != nil || seqs(got) != "1,2,3,4" {
		t.Fatalf("Load: %q, records %s, %v", got.Snapshot, seqs(got), err)
	}
}

func TestAppendsGoOnWhileACheckpointWritesItsChunks(t *testing.T) {
	ctx, api, r := startLoaded(t)
	if _, err := r.Append(ctx, records(1, 10, 100)); err != nil {
		t.Fatal(err)
	}
	// The chunk writes wait until the test has appended (outside the
	// fake clientset, which serializes its calls).
	chunking := make(chan struct{})
	resume := make(chan struct{})
	var once sync.Once
	r.client = slowCreates{Interface: api, block: func(name string) {
		if name != DefaultName {
			once.Do(func() { close(chunking) })
			<-resume
		}
	}}
	snapshot := random(t, 2<<20)
	done := make(chan error, 1)
	go func() { _, err := r.Checkpoint(ctx, snapshot, 8); done <- err }()
	<-chunking
	if _, err := r.Append(ctx, records(11, 20, 100)); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := New(api, "opshub", "").Load(ctx)
	if err != nil || !bytes.Equal(got.Snapshot, snapshot) || seqs(got) != "9,10,11,12,13,14,15,16,17,18,19,20" {
		t.Fatalf("Load: %d-byte snapshot, records %s, %v", len(got.Snapshot), seqs(got), err)
	}
}

func TestCorruptLogRecordIsNamed(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	r := New(client, "opshub", "")
	if _, err := r.Append(ctx, records(1, 3, 10)); err != nil {
		t.Fatal(err)
	}
	s, err := client.CoreV1().Secrets("opshub").Get(ctx, DefaultName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data["log-2"] = []byte("not zstd")
	if _, err := client.CoreV1().Secrets("opshub").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = New(client, "opshub", "").Load(ctx)
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "log record log-2: decompress") {
		t.Fatalf("Load with a damaged record: %v", err)
	}
}

// slowCreates calls block before each Secret create.
type slowCreates struct {
	kubernetes.Interface
	block func(name string)
}

func (s slowCreates) CoreV1() corev1client.CoreV1Interface {
	return slowCore{s.Interface.CoreV1(), s.block}
}

type slowCore struct {
	corev1client.CoreV1Interface
	block func(name string)
}

func (c slowCore) Secrets(ns string) corev1client.SecretInterface {
	return slowSecrets{c.CoreV1Interface.Secrets(ns), c.block}
}

type slowSecrets struct {
	corev1client.SecretInterface
	block func(name string)
}

func (s slowSecrets) Create(ctx context.Context, secret *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error) {
	s.block(secret.Name)
	return s.SecretInterface.Create(ctx, secret, opts)
}
