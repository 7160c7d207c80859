package spend

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"

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
	containers := cluster10k()
	at := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	if err := l.Tick(at, containers, nil); err != nil {
		b.Fatal(err)
	}
	tickMinutes(b, l, at, containers)
}

// tickMinutes is the benchmark's loop: a tick a minute after at.
func tickMinutes(b *testing.B, l *Ledger, at time.Time, containers []Container) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(time.Minute)
		if err := l.Tick(at, containers, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// cluster10k is the benchmarks' cluster: 10,000 pods, 1,000 services of 10
// in 200 projects, each requesting a quarter core and 256 MiB.
func cluster10k() []Container {
	containers := make([]Container, 10000)
	for i := range containers {
		s := i / 10
		containers[i] = Container{
			Ref:        model.Ref{Project: fmt.Sprintf("team-%03d", s%200), Service: fmt.Sprintf("service-%04d", s), Instance: fmt.Sprintf("service-%04d-7d9f8c6b5-%05d", s, i)},
			Running:    true,
			CPURequest: 0.25, CPUUsage: 0.1, MemoryRequest: 256 << 20, MemoryUsage: 200 << 20,
		}
	}
	return containers
}

// countingStore is a LedgerStore that measures the records each Write
// changes, as the state file holds them (key and JSON value).
type countingStore struct {
	LedgerStore
	writes, bytes, most int
}

func (c *countingStore) Write(b Batch) error {
	n := recordBytes(b)
	c.writes++
	c.bytes += n
	c.most = max(c.most, n)
	return c.LedgerStore.Write(b)
}

func recordBytes(b Batch) int {
	size := func(key string, v any) int { return len(key) + len(must(json.Marshal(v))) }
	n := 0
	if !b.Cursor.IsZero() {
		n += size("cursor", b.Cursor)
	}
	for i, s := range b.Series {
		n += size(seriesKey(i), s)
	}
	for _, h := range b.Hours {
		n += size(hourKey(h.Hour), costsRecord{h.Costs})
	}
	for _, d := range b.Days {
		n += size(d.Day, costsRecord{d.Costs})
	}
	for _, c := range b.Instances {
		n += size(instancesKey(c), instancesRecord(c))
	}
	return n
}

// BenchmarkLedger10kPods90Days builds the ledger of cluster10k after 90
// days under the default retention (September 16th to December 15th: the
// hours of November and December, the days of September and October),
// charged hour by hour, and writes it into a state file. With usage
// "steady" every pod costs its requests (basis max, usage below them);
// with "varying" each pod's cpu usage is drawn anew every hour, above its
// request about half the time, so that no two hours of a service cost the
// same (the worst case for compression). It reports the records' bytes, the state file's size (compacted
// as a replicated store snapshots it) and that file compressed with zstd's
// fastest level, the heap the ledger holds once opened from the file, and
// then, per one-minute tick on that file (the loop), the bytes of the
// records a commit changes: on average and at most.
func BenchmarkLedger10kPods90Days(b *testing.B) {
	for _, varying := range []bool{false, true} {
		b.Run(map[bool]string{false: "usage=steady", true: "usage=varying"}[varying], func(b *testing.B) { benchLedger90Days(b, varying) })
	}
}

func benchLedger90Days(b *testing.B, varying bool) {
	containers := cluster10k()
	now := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	mem := &memStore{}
	built, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, time.UTC, mem)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for at := now.AddDate(0, 0, -90); !at.After(now); at = at.Add(time.Hour) {
		for i := range containers {
			if varying {
				containers[i].CPUUsage = 0.25 * (0.2 + 1.4*rng.Float64())
			}
		}
		if err := built.Tick(at, containers, nil); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := built.Compact(now); err != nil {
		b.Fatal(err)
	}
	snap, _ := mem.Load()
	all := Batch{Cursor: snap.Cursor, Series: snap.Series, Hours: snap.Hours, Days: snap.Days, Instances: snap.Instances}
	built, mem = nil, nil

	path := filepath.Join(b.TempDir(), "state.db")
	db, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := NewDBStore(db).Write(all); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	// Written in one transaction, the file has no free pages to leave
	// out, as a replicated store's snapshot would.
	file := path
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	compressed := len(enc.EncodeAll(raw, nil))
	used := usedBytes(b, file)

	db, err = store.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	counting := &countingStore{LedgerStore: NewDBStore(db)}
	opened := time.Now()
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, time.UTC, counting)
	if err != nil {
		b.Fatal(err)
	}
	openTook := time.Since(opened)
	runtime.GC()
	runtime.ReadMemStats(&after)

	tickMinutes(b, l, now, containers)
	b.StopTimer()
	// After the loop: ResetTimer drops the metrics reported before it.
	b.ReportMetric(float64(recordBytes(all)), "record-bytes")
	b.ReportMetric(float64(used), "file-bytes")
	b.ReportMetric(float64(compressed), "zstd-bytes")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc), "heap-bytes")
	b.ReportMetric(float64(openTook.Milliseconds()), "open-ms")
	b.ReportMetric(float64(counting.bytes)/float64(counting.writes), "changed-bytes/commit")
	b.ReportMetric(float64(counting.most), "most-changed-bytes")
}

// usedBytes is the size of a state file up to its last page in use (bbolt
// grows the file ahead of that).
func usedBytes(b *testing.B, path string) int64 {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		b.Fatal(err)
	}
	return n
}
