//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/spend"
	"github.com/opshub/opshub/store"
	"github.com/opshub/opshub/store/kubestate"
)

var stateRuns atomic.Int64

var (
	statePods     = flag.String("state-pods", "100,300,1000", "BenchmarkStateWrite: comma-separated pod counts, one sub-benchmark each")
	stateDays     = flag.Int("state-days", 90, "BenchmarkStateWrite: days of spend in the ledger")
	stateLogBytes = flag.Int("state-checkpoint-bytes", 0, "BenchmarkStateWrite: the log size that starts a checkpoint (0: store.DefaultCheckpointBytes)")
	statePayload  = flag.Int("state-write-bytes", 0, "BenchmarkStateWrite: pad each write's value to this many bytes of hex digits, which compress about 2:1 (0: a throttle window, about 100 bytes)")
)

// BenchmarkStateWrite measures what one committed write of the controller
// costs on the API server for the state of a cluster of N pods: 90 days of
// spend under the default retention (hourly buckets per pod for this and
// the previous month, daily ones per service before), 10 pods a service,
// and the controller's delivery history at its bound (2,000 crash alerts
// with their last lines). The state goes into the Secrets as a checkpoint
// (twice: the second, beside the first generation, is the steady-state
// cost reported as checkpoint-ms); then the controller's way in restores
// it and writes one small record at a time (an alert's throttle window),
// each returning once its log record is in the head Secret, while
// checkpoints run in the background whenever the log passes
// -state-checkpoint-bytes. It reports the state file's size, what it takes
// compressed in the Secrets, the p50 and p99 of one write, and the
// background checkpoints' count and longest time. A state whose checkpoint
// does not fit reports its sizes and fits=0. Run it with
//
//	go test -tags e2e -run '^$' -bench BenchmarkStateWrite -benchtime 2000x -timeout 60m ./test/e2e/ -args -state-pods 100,300,1000
func BenchmarkStateWrite(b *testing.B) {
	var pods []int
	for f := range strings.SplitSeq(*statePods, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 10 {
			b.Fatalf("-state-pods: %q is not a count of 10 or more", f)
		}
		pods = append(pods, n)
	}
	c := kubetest.Start(b, kubetest.Options{})
	ctx := context.Background()
	for _, n := range pods {
		b.Run(fmt.Sprintf("pods-%d-days-%d", n, *stateDays), func(b *testing.B) {
			file := buildClusterState(b, n, *stateDays)
			snapshot, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			// The testing package may run a sub-benchmark more than once.
			ns := fmt.Sprintf("bench-state-%d-%d", n, stateRuns.Add(1))
			client := controllerClient(b, c, ns)
			seed := kubestate.New(client, ns, "")
			if _, err := seed.Load(ctx); err != nil {
				b.Fatal(err)
			}
			var checkpoint time.Duration
			for range 2 {
				start := time.Now()
				if _, err := seed.Checkpoint(ctx, snapshot, 0); err != nil {
					if !errors.Is(err, kubestate.ErrTooLarge) {
						b.Fatal(err)
					}
					b.Logf("%d pods: a %d-byte state file does not fit the state Secrets: %v", n, len(snapshot), err)
					reportState(b, len(snapshot), storedBytes(b, c, ns), nil, 0)
					return
				}
				checkpoint = time.Since(start)
			}
			stored := storedBytes(b, c, ns)
			// The controller's way in: restore from the Secrets, then write.
			var mu sync.Mutex
			var checkpoints []store.SaveInfo
			db, err := store.OpenReplicated(ctx, filepath.Join(b.TempDir(), "controller-state.db"), kubestate.New(client, ns, ""),
				store.WithCheckpoints(*stateLogBytes, 0),
				store.WithSaveObserver(func(s store.SaveInfo) {
					if s.Checkpoint {
						mu.Lock()
						checkpoints = append(checkpoints, s)
						mu.Unlock()
					}
				}))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			throttle := store.NewBucket[string](db, "alerting.throttle")
			pad := make([]byte, max(0, *statePayload-40)/2)
			put := func(i int) error {
				_, _ = rand.Read(pad)
				return throttle.Put(fmt.Sprintf("instance.crashloop|team-%03d/service-%04d/%d", i%200, i, i), time.Now().Format(time.RFC3339Nano)+hex.EncodeToString(pad))
			}
			var took []time.Duration
			i := 0
			b.ResetTimer()
			for b.Loop() {
				i++
				start := time.Now()
				if err := put(i); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			mu.Lock()
			var longest time.Duration
			for _, s := range checkpoints {
				if s.Err != nil {
					b.Errorf("background checkpoint: %v", s.Err)
				}
				longest = max(longest, s.Duration)
			}
			b.ReportMetric(float64(len(checkpoints)), "checkpoints")
			b.ReportMetric(float64(longest.Milliseconds()), "longest-background-checkpoint-ms")
			mu.Unlock()
			reportState(b, len(snapshot), max(stored, storedBytes(b, c, ns)), took, checkpoint)
		})
	}
}

// reportState reports the state's sizes and, when it could be written
// (took is not empty), fits=1, the p50 and p99 of one write and the time
// of one checkpoint of the file.
func reportState(b *testing.B, file, stored int, took []time.Duration, checkpoint time.Duration) {
	b.ReportMetric(float64(file), "file-bytes")
	b.ReportMetric(float64(stored), "stored-bytes")
	if len(took) == 0 {
		b.ReportMetric(0, "fits")
		return
	}
	slices.Sort(took)
	b.ReportMetric(1, "fits")
	b.ReportMetric(float64(checkpoint.Milliseconds()), "checkpoint-ms")
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[(len(took)*99)/100].Microseconds())/1000, "p99-ms")
}

// buildClusterState writes the state of a cluster of pods into a plain
// state file and returns its path, closed: the spend meter's ledger,
// charged a day at a tick (every pod at a quarter core and 256 MiB, 10 pods
// a service in 200 projects) and compacted under spend.DefaultRetention
// (the hours of this and the previous month, the days before), written as
// it writes itself (one transaction a tick, so that building does not copy
// the file per commit as a replicated one would).
func buildClusterState(b *testing.B, pods, days int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "built.db")
	db, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	buildDeliveries(b, db, 2000)
	ledger, err := spend.OpenLedger(spend.Model{Prices: spend.DefaultPrices(), Basis: spend.BasisMax}, time.UTC, spend.NewDBStore(db))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	services := pods / 10
	containers := make([]spend.Container, pods)
	for p := range containers {
		s := p % services
		containers[p] = spend.Container{
			Ref:     model.Ref{Project: fmt.Sprintf("team-%03d", s%200), Service: fmt.Sprintf("service-%04d", s), Instance: fmt.Sprintf("service-%04d-7d9f8c6b5-%05d", s, p)},
			Running: true, CPURequest: 0.25, MemoryRequest: 256 << 20,
		}
	}
	for day := now.AddDate(0, 0, -days); !day.After(now); day = day.AddDate(0, 0, 1) {
		if err := ledger.Tick(day, containers, nil); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := ledger.Compact(now); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	// As the replicated store snapshots a file with many free pages: a
	// compacted copy, pages filled.
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	compacted := filepath.Join(b.TempDir(), "compacted.db")
	dst, err := bolt.Open(compacted, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
	return compacted
}
