//go:build e2e

package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	statePods = flag.String("state-pods", "100,300,1000", "BenchmarkStateWrite: comma-separated pod counts, one sub-benchmark each")
	stateDays = flag.Int("state-days", 90, "BenchmarkStateWrite: days of spend in the ledger")
)

// BenchmarkStateWrite measures what one committed write of the controller
// costs on the API server for the state of a cluster of N pods: 90 days of
// spend under the default retention (hourly buckets per pod for this and
// the previous month, daily ones per service before), 10 pods a service,
// and the controller's delivery history at its bound (2,000 crash alerts
// with their last lines). It reports the state file's size, what it takes
// compressed in the Secrets, and the p50 and p99 of one small write (an
// alert's throttle window), which returns once the whole state holding it
// is in the Secrets. A state that does not fit reports its sizes and
// fits=0. Run it with
//
//	go test -tags e2e -run '^$' -bench BenchmarkStateWrite -benchtime 20x -timeout 60m ./test/e2e/ -args -state-pods 100,300,1000
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
			if err := seed.Save(ctx, snapshot); err != nil {
				if !errors.Is(err, kubestate.ErrTooLarge) {
					b.Fatal(err)
				}
				b.Logf("%d pods: a %d-byte state file does not fit the state Secrets: %v", n, len(snapshot), err)
				reportState(b, len(snapshot), 0, nil)
				return
			}
			stored := storedBytes(b, c, ns)
			// The controller's way in: restore from the Secrets, then write.
			db, err := store.OpenReplicated(ctx, filepath.Join(b.TempDir(), "controller-state.db"), kubestate.New(client, ns, ""))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			throttle := store.NewBucket[time.Time](db, "alerting.throttle")
			put := func(i int) error {
				return throttle.Put(fmt.Sprintf("instance.crashloop|team-%03d/service-%04d/%d", i%200, i, i), time.Now())
			}
			if err := put(0); errors.Is(err, kubestate.ErrTooLarge) {
				// One generation fits, the next beside it does not: the
				// controller could not write at all.
				b.Logf("%d pods: %d bytes compressed fit once, but not a second generation beside it: %v", n, stored, err)
				reportState(b, len(snapshot), stored, nil)
				return
			} else if err != nil {
				b.Fatal(err)
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
			reportState(b, len(snapshot), stored, took)
		})
	}
}

// reportState reports the state's sizes and, when it could be written
// (took is not empty), fits=1 and the p50 and p99 of one write.
func reportState(b *testing.B, file, stored int, took []time.Duration) {
	b.ReportMetric(float64(file), "file-bytes")
	b.ReportMetric(float64(stored), "stored-bytes")
	if len(took) == 0 {
		b.ReportMetric(0, "fits")
		return
	}
	slices.Sort(took)
	b.ReportMetric(1, "fits")
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[(len(took)*99)/100].Milliseconds()), "p99-ms")
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
