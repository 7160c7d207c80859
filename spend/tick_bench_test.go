package spend

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// BenchmarkTick10k is one pass of spend accrual for a cluster of 10,000
// running pods (1,000 services of 10 in 200 projects): one minute charged
// to every pod's cpu and memory bucket and committed with the cursor in one
// transaction of a state file on disk, as the meter does once a minute.
func BenchmarkTick10k(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, time.UTC, NewDBStore(db))
	if err != nil {
		b.Fatal(err)
	}
	containers := make([]Container, 10000)
	for i := range containers {
		s := i / 10
		containers[i] = Container{
			Ref:        model.Ref{Project: fmt.Sprintf("team-%03d", s%200), Service: fmt.Sprintf("service-%04d", s), Instance: fmt.Sprintf("service-%04d-7d9f8c6b5-%05d", s, i)},
			Running:    true,
			CPURequest: 0.25, CPUUsage: 0.1, MemoryRequest: 256 << 20, MemoryUsage: 200 << 20,
		}
	}
	at := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	if err := l.Tick(at, containers, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(time.Minute)
		if err := l.Tick(at, containers, nil); err != nil {
			b.Fatal(err)
		}
	}
}
