//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/opshub/opshub/alerting"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/spend"
	"github.com/opshub/opshub/store"
	"github.com/opshub/opshub/store/kubestate"
)

// controllerClient prepares namespace ns as the base's controller namespace
// (the opshub-controller Role and RoleBinding of deploy/kubernetes, moved to
// ns) and returns a client acting as the controller's ServiceAccount, so the
// tests prove that the installed RBAC is enough for the state Secrets.
func controllerClient(t testing.TB, c *kubetest.Cluster, ns string) k8s.Interface {
	t.Helper()
	ctx := context.Background()
	c.Namespace(t, ns)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "opshub-controller", Namespace: ns}}
	if _, err := c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role, binding := controllerRBAC(t)
	role.Namespace, binding.Namespace = ns, ns
	for i := range binding.Subjects {
		binding.Subjects[i].Namespace = ns
	}
	if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":opshub-controller"}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// RBAC answers from a cache that follows the Role: wait until the
	// controller may read its (not yet existing) state.
	sinktest.Eventually(t, waitTimeout, "the controller's RBAC to take effect", func() error {
		_, err := client.CoreV1().Secrets(ns).Get(ctx, kubestate.DefaultName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading its state: %v", err)
	})
	return client
}

// controllerRBAC reads the controller's Role and RoleBinding from the base.
func controllerRBAC(t testing.TB) (*rbacv1.Role, *rbacv1.RoleBinding) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kustomizeBase, "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decode := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var role *rbacv1.Role
	var binding *rbacv1.RoleBinding
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if regexp.MustCompile(`(?m)^\s*[a-zA-Z]`).FindString(doc) == "" {
			continue
		}
		obj, _, err := decode.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("rbac.yaml: %v", err)
		}
		switch o := obj.(type) {
		case *rbacv1.Role:
			if o.Name == "opshub-controller" {
				role = o
			}
		case *rbacv1.RoleBinding:
			if o.Name == "opshub-controller" {
				binding = o
			}
		}
	}
	if role == nil || binding == nil {
		t.Fatal("deploy/kubernetes/rbac.yaml has no Role and RoleBinding opshub-controller")
	}
	return role, binding
}

// stateSecrets lists the state Secrets in ns by name (as the administrator:
// the controller may not list).
func stateSecrets(t testing.TB, c *kubetest.Cluster, ns string) []string {
	t.Helper()
	list, err := c.Client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "opshub.dev/state-of=" + kubestate.DefaultName})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateInSecrets(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		ns := "state-roundtrip"
		client := controllerClient(t, c, ns)
		r := kubestate.New(client, ns, "")
		got, err := r.Load(ctx)
		if err != nil || got.Snapshot != nil || got.Log != nil {
			t.Fatalf("Load of nothing = %+v, %v; want nothing", got, err)
		}
		record := bytes.Repeat([]byte("alert state: checkout crashed with exit code 137\n"), 100)
		if _, err := r.Append(ctx, []store.Record{{Seq: 1, Data: record}}); err != nil {
			t.Fatal(err)
		}
		first := bytes.Repeat([]byte("alert state: checkout crashed with exit code 137\n"), 4000)
		if _, err := r.Checkpoint(ctx, first, 1); err != nil {
			t.Fatal(err)
		}
		second := append(bytes.Clone(first), "and recovered\n"...)
		if _, err := r.Checkpoint(ctx, second, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Append(ctx, []store.Record{{Seq: 2, Data: record}}); err != nil {
			t.Fatal(err)
		}
		got, err = kubestate.New(client, ns, "").Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Snapshot, second) || len(got.Log) != 1 || got.Log[0].Seq != 2 || !bytes.Equal(got.Log[0].Data, record) {
			t.Fatalf("loaded %d bytes and %d records, want the %d checkpointed last and record 2", len(got.Snapshot), len(got.Log), len(second))
		}
		head, err := c.Client.CoreV1().Secrets(ns).Get(ctx, kubestate.DefaultName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if head.Type != corev1.SecretTypeOpaque || head.Labels["app.kubernetes.io/name"] != "opshub" {
			t.Fatalf("head type %q labels %v", head.Type, head.Labels)
		}
		stored := head.Data["state.zst"]
		if len(stored) == 0 || len(stored) > len(second)/10 || bytes.Contains(stored, []byte("checkout")) {
			t.Fatalf("head holds %d bytes for a %d-byte snapshot; want it compressed", len(stored), len(second))
		}
		if log := head.Data["log-2"]; len(log) == 0 || len(log) > len(record)/4 || len(head.Data) != 2 {
			t.Fatalf("head holds %d keys, record 2 in %d bytes; want the checkpoint and record 2 compressed", len(head.Data), len(log))
		}
		if names := stateSecrets(t, c, ns); fmt.Sprint(names) != "[opshub-state]" {
			t.Fatalf("state Secrets %v, want only the head", names)
		}
	})

	t.Run("ChunksPastOneSecret", func(t *testing.T) {
		ns := "state-chunks"
		client := controllerClient(t, c, ns)
		r := kubestate.New(client, ns, "")
		if _, err := r.Load(ctx); err != nil {
			t.Fatal(err)
		}
		// Random bytes do not compress: 2.5 MiB take 4 chunks.
		big := randomBytes(t, 5<<19)
		if _, err := r.Checkpoint(ctx, big, 0); err != nil {
			t.Fatal(err)
		}
		if names := stateSecrets(t, c, ns); fmt.Sprint(names) != "[opshub-state opshub-state-1 opshub-state-2 opshub-state-3 opshub-state-4]" {
			t.Fatalf("state Secrets %v, want the head and 4 chunks", names)
		}
		got, err := kubestate.New(client, ns, "").Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Snapshot, big) {
			t.Fatal("a chunked snapshot came back different")
		}

		// The next generation goes into other chunks; the old ones go.
		big2 := randomBytes(t, 5<<19)
		if _, err := r.Checkpoint(ctx, big2, 0); err != nil {
			t.Fatal(err)
		}
		if names := stateSecrets(t, c, ns); fmt.Sprint(names) != "[opshub-state opshub-state-5 opshub-state-6 opshub-state-7 opshub-state-8]" {
			t.Fatalf("state Secrets %v, want the head and chunks 5-8", names)
		}
		if got, err := kubestate.New(client, ns, "").Load(ctx); err != nil || !bytes.Equal(got.Snapshot, big2) {
			t.Fatalf("second generation: %d bytes, %v", len(got.Snapshot), err)
		}

		// More than fits beside the current generation fails and changes nothing.
		huge := randomBytes(t, 45<<20)
		if _, err := r.Checkpoint(ctx, huge, 0); !errors.Is(err, kubestate.ErrTooLarge) {
			t.Fatalf("checkpoint of 45 MiB next to 2.5 MiB: %v, want ErrTooLarge", err)
		}
		if got, err := kubestate.New(client, ns, "").Load(ctx); err != nil || !bytes.Equal(got.Snapshot, big2) {
			t.Fatalf("after a refused checkpoint: %d bytes, %v", len(got.Snapshot), err)
		}

		// Back to one Secret: every chunk goes.
		if _, err := r.Checkpoint(ctx, []byte("small again"), 0); err != nil {
			t.Fatal(err)
		}
		if names := stateSecrets(t, c, ns); fmt.Sprint(names) != "[opshub-state]" {
			t.Fatalf("state Secrets %v, want only the head", names)
		}
	})

	t.Run("LeftoverChunksOfADeadWriterGo", func(t *testing.T) {
		ns := "state-leftovers"
		client := controllerClient(t, c, ns)
		// A chunk a writer wrote before it died, never named by a head.
		leftover := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "opshub-state-9", Namespace: ns,
			Labels:      map[string]string{"opshub.dev/state-of": kubestate.DefaultName},
			Annotations: map[string]string{"opshub.dev/state-generation": "1"}}}
		if _, err := c.Client.CoreV1().Secrets(ns).Create(ctx, leftover, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := kubestate.New(client, ns, "")
		if _, err := r.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Checkpoint(ctx, []byte("state"), 0); err != nil {
			t.Fatal(err)
		}
		if names := stateSecrets(t, c, ns); fmt.Sprint(names) != "[opshub-state]" {
			t.Fatalf("state Secrets %v, want only the head", names)
		}
	})

	t.Run("SecondWriterLoses", func(t *testing.T) {
		ns := "state-conflict"
		client := controllerClient(t, c, ns)
		a, b := kubestate.New(client, ns, ""), kubestate.New(client, ns, "")
		for _, r := range []*kubestate.Replica{a, b} {
			if _, err := r.Load(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Append(ctx, []store.Record{{Seq: 1, Data: []byte("from a")}}); err != nil {
			t.Fatal(err)
		}
		_, err := b.Append(ctx, []store.Record{{Seq: 1, Data: []byte("from b")}})
		if !errors.Is(err, kubestate.ErrConflict) || !strings.Contains(err.Error(), "another controller wrote the state") {
			t.Fatalf("the second writer's Append: %v, want ErrConflict", err)
		}
		for _, snapshot := range [][]byte{[]byte("from b"), randomBytes(t, 1<<20)} {
			_, err := b.Checkpoint(ctx, snapshot, 1)
			if !errors.Is(err, kubestate.ErrConflict) || !strings.Contains(err.Error(), "another controller wrote the state") {
				t.Fatalf("the second writer's checkpoint of %d bytes: %v, want ErrConflict", len(snapshot), err)
			}
		}
		if _, err := a.Checkpoint(ctx, []byte("from a again"), 1); err != nil {
			t.Fatalf("the first writer after the loser tried: %v", err)
		}
		if got, err := kubestate.New(client, ns, "").Load(ctx); err != nil || string(got.Snapshot) != "from a again" || len(got.Log) != 0 {
			t.Fatalf("state is %q with %d records, %v", got.Snapshot, len(got.Log), err)
		}
		if names := stateSecrets(t, c, ns); fmt.Sprint(names) != "[opshub-state]" {
			t.Fatalf("state Secrets %v, want only the head", names)
		}
	})

	t.Run("StaleLeaderUpdateFails", func(t *testing.T) {
		ns := "state-stale-leader"
		client := controllerClient(t, c, ns)
		dbA, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "a.db"), kubestate.New(client, ns, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer dbA.Close()
		dbB, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "b.db"), kubestate.New(client, ns, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer dbB.Close()
		if err := store.NewBucket[string](dbB, "alerts").Put("x", "b"); err != nil {
			t.Fatal(err)
		}
		err = store.NewBucket[string](dbA, "alerts").Put("x", "a")
		var se *store.SaveError
		if !errors.As(err, &se) || !errors.Is(err, kubestate.ErrConflict) {
			t.Fatalf("the stale leader's Put: %v, want a SaveError wrapping ErrConflict", err)
		}
	})

	t.Run("FullLogWaitsForACheckpoint", func(t *testing.T) {
		ns := "state-full-log"
		client := controllerClient(t, c, ns)
		var mu sync.Mutex
		var forced []store.SaveInfo
		// No background checkpoint: only a full head makes one.
		db, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "state.db"), kubestate.New(client, ns, ""),
			store.WithCheckpoints(1<<30, 0),
			store.WithSaveObserver(func(s store.SaveInfo) {
				if s.Checkpoint {
					mu.Lock()
					forced = append(forced, s)
					mu.Unlock()
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Random 96 KiB values (128 KiB of JSON) hardly compress: the
		// head's log is full after about 8 of them; and one record of
		// 3 MiB is more than a head holds.
		records := store.NewBucket[[]byte](db, "records")
		var want [][]byte
		for i := range 20 {
			v := randomBytes(t, 96<<10)
			if i == 12 {
				v = randomBytes(t, 3<<20)
			}
			if err := records.Put(fmt.Sprintf("%02d", i), v); err != nil {
				t.Fatalf("Put %d: %v", i, err)
			}
			want = append(want, v)
		}
		mu.Lock()
		n := len(forced)
		for _, s := range forced {
			if s.Err != nil || s.Commits == 0 {
				t.Errorf("checkpoint %+v, want one that writes waited on", s)
			}
		}
		mu.Unlock()
		if n < 2 {
			t.Fatalf("%d checkpoints for 20 records of which 8 fill the log and one is larger than it", n)
		}
		other, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "state.db"), kubestate.New(client, ns, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		got, err := store.NewBucket[[]byte](other, "records").List()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("the new leader sees %d records, want %d", len(got), len(want))
		}
		for i, e := range got {
			if !bytes.Equal(e.Value, want[i]) {
				t.Fatalf("record %s differs", e.Key)
			}
		}
	})

	t.Run("FailoverSeesExactlyTheCommittedRecords", func(t *testing.T) {
		ns := "state-failover"
		client := controllerClient(t, c, ns)
		var saves []store.SaveInfo
		var mu sync.Mutex
		// Checkpoints every 128 KiB of log, so that they run in the
		// background while the writers go on.
		dbA, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "state.db"), kubestate.New(client, ns, ""),
			store.WithCheckpoints(128<<10, 0),
			store.WithSaveObserver(func(s store.SaveInfo) { mu.Lock(); saves = append(saves, s); mu.Unlock() }))
		if err != nil {
			t.Fatal(err)
		}
		// A is never closed cleanly: the new leader must not need it.
		t.Cleanup(func() { dbA.Close() })

		// 8 writers commit 320 records of 3 KiB each, random, so that the
		// log fills up and the checkpoints are chunked.
		const writers, each, size = 8, 40, 3 << 10
		type rec struct {
			N       int    `json:"n"`
			Payload []byte `json:"payload"`
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := store.NewBucket[rec](dbA, "records")
				for i := range each {
					n := w*each + i
					if err := b.Put(fmt.Sprintf("%04d", n), rec{N: n, Payload: randomBytes(t, size)}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mu.Lock()
		appends, checkpoints, chunked := 0, 0, false
		for _, s := range saves {
			if s.Err != nil {
				t.Errorf("%+v", s)
			}
			if s.Checkpoint {
				checkpoints++
				chunked = chunked || s.Bytes > 1<<20
			} else {
				appends++
			}
		}
		t.Logf("%d Puts took %d appends and %d checkpoints", writers*each, appends, checkpoints)
		mu.Unlock()
		if checkpoints == 0 || !chunked {
			t.Fatalf("%d checkpoints, none over 1 MiB; the test wants chunked checkpoints racing the writers", checkpoints)
		}

		dbB, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "state.db"), kubestate.New(client, ns, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer dbB.Close()
		got, err := store.NewBucket[rec](dbB, "records").List()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != writers*each {
			t.Fatalf("the new leader sees %d records, want %d", len(got), writers*each)
		}
		want, err := store.NewBucket[rec](dbA, "records").List()
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range got {
			if e.Value.N != i || !bytes.Equal(e.Value.Payload, want[i].Value.Payload) {
				t.Fatalf("record %s = %d with %d bytes, not what the old leader wrote", e.Key, e.Value.N, len(e.Value.Payload))
			}
		}

		// The new leader writes; the old one is fenced off.
		if err := store.NewBucket[rec](dbB, "records").Put("new", rec{N: -1}); err != nil {
			t.Fatal(err)
		}
		if err := store.NewBucket[rec](dbA, "records").Put("old", rec{N: -2}); !errors.Is(err, kubestate.ErrConflict) {
			t.Fatalf("the old leader's Put after the failover: %v, want ErrConflict", err)
		}
	})
}

// BenchmarkStateSave measures a checkpoint to the API server for three
// states: a small one, 2,000 deliveries of crash alerts with their last
// lines and a month of the spend ledger for 50 services with 2 instances
// each.
func BenchmarkStateSave(b *testing.B) {
	c := kubetest.Start(b, kubetest.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		build func(b *testing.B, db *store.DB)
	}{
		{"small", func(b *testing.B, db *store.DB) { buildDeliveries(b, db, 100) }},
		{"deliveries-2k", func(b *testing.B, db *store.DB) { buildDeliveries(b, db, 2000) }},
		{"ledger-50-services-30-days", func(b *testing.B, db *store.DB) { buildLedger(b, db, 50, 2, 30) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			snapshot := buildSnapshot(b, tc.build)
			ns := "bench-" + tc.name
			r := kubestate.New(controllerClient(b, c, ns), ns, "")
			if _, err := r.Load(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.Checkpoint(ctx, snapshot, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(snapshot)), "snapshot-bytes")
			b.ReportMetric(float64(storedBytes(b, c, ns)), "stored-bytes")
		})
	}
}

// buildSnapshot fills a fresh replicated state file with build and returns
// the last checkpoint it took (one a commit: its log is always full).
func buildSnapshot(b *testing.B, build func(*testing.B, *store.DB)) []byte {
	b.Helper()
	keep := &lastSnapshot{}
	db, err := store.OpenReplicated(context.Background(), filepath.Join(b.TempDir(), "state.db"), keep)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	build(b, db)
	return keep.snapshot
}

// lastSnapshot is a Replica in memory that keeps only the last checkpoint
// and has no room for a log.
type lastSnapshot struct{ snapshot []byte }

func (l *lastSnapshot) Load(context.Context) (store.Loaded, error) { return store.Loaded{}, nil }
func (l *lastSnapshot) Append(context.Context, []store.Record) (int, error) {
	return 0, store.ErrLogFull
}
func (l *lastSnapshot) Checkpoint(_ context.Context, s []byte, _ uint64) (int, error) {
	l.snapshot = bytes.Clone(s)
	return 0, nil
}

// storedBytes is what the state takes in the API: the data of every state
// Secret.
func storedBytes(b *testing.B, c *kubetest.Cluster, ns string) int {
	list, err := c.Client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "opshub.dev/state-of=" + kubestate.DefaultName})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, s := range list.Items {
		for _, v := range s.Data {
			n += len(v)
		}
	}
	return n
}

// logLine makes a plausible log line: fixed words, a timestamp, ids.
func logLine(r *mathrand.Rand, t time.Time) string {
	return fmt.Sprintf("%s ERROR checkout.worker[%d] request %016x for order %d failed: dial tcp 10.0.%d.%d:5432: connect: connection refused",
		t.Format(time.RFC3339Nano), r.IntN(64), r.Uint64(), r.IntN(1_000_000), r.IntN(256), r.IntN(256))
}

// buildDeliveries writes n finished deliveries as alerting writes them: a
// crash event carrying the container's last 20 lines, with the request and
// response summaries of the attempt.
func buildDeliveries(b *testing.B, db *store.DB, n int) {
	r := mathrand.New(mathrand.NewPCG(1, 2))
	deliveries := store.NewBucket[alerting.Delivery](db, "alerting.deliveries")
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const batch = 100
	for i := 0; i < n; i += batch {
		err := db.Update(func(tx *store.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				now := start.Add(time.Duration(j) * time.Minute)
				lines := make([]string, 20)
				for k := range lines {
					lines[k] = logLine(r, now.Add(time.Duration(k-20)*time.Second))
				}
				svc := fmt.Sprintf("service-%02d", r.IntN(50))
				ev := model.Event{ID: fmt.Sprintf("ev-%08d", j), Name: "instance.crash", Status: "firing", Severity: "critical", Time: now,
					Project: "shop", Service: svc, Instance: fmt.Sprintf("%s-%x", svc, r.Uint32()),
					Summary: svc + " crashed with exit code 1",
					Data:    map[string]any{"exitCode": 1, "reason": "Error", "lastLines": lines, "link": "https://opshub.example/api/v1/services/shop/" + svc}}
				d := alerting.Delivery{ID: fmt.Sprintf("%020d", j), Integration: "slack-oncall", Event: ev.Name, State: alerting.DeliveryDelivered,
					Attempts: 1, LastStatus: 200, Time: now, Status: "firing", AlertKey: "instance.crash/shop/" + svc, Created: now,
					Request:  `POST https://hooks.slack.com/services/<secret> {"blocks":[{"type":"header","text":"` + ev.Summary + `"}, …]}`,
					Response: `200 OK {"ok":true,"ts":"` + fmt.Sprint(now.Unix()) + `.000100"}`, Payload: ev}
				if err := deliveries.PutTx(tx, d.ID, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// buildLedger charges services × instances for days through spend's own
// store, committing once an hour (the meter commits every tick; hourly
// keeps the build, which snapshots every commit, to seconds).
func buildLedger(b *testing.B, db *store.DB, services, instances, days int) {
	ledger := spend.NewDBStore(db)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for t := start; t.Before(start.Add(time.Duration(days) * 24 * time.Hour)); t = t.Add(time.Hour) {
		hour := t.Truncate(time.Hour)
		var entries []spend.Entry
		for s := range services {
			for i := range instances {
				ref := model.Ref{Project: "shop", Service: fmt.Sprintf("service-%02d", s), Instance: fmt.Sprintf("service-%02d-7d9f8c6b5-%05d", s, i)}
				for _, res := range []spend.Resource{spend.CPU, spend.Memory} {
					entries = append(entries, spend.Entry{Hour: hour, Project: ref.Project, Service: ref.Service, Instance: ref.Instance, Resource: res, Cost: 0.0012})
				}
			}
		}
		if err := ledger.Commit(t, entries); err != nil {
			b.Fatal(err)
		}
	}
}
