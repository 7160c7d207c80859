package metrics

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// BenchmarkStoreHour fills a store with an hour of 15 s samples for 18
// series a pod, added a node's batch at a time as the controller adds the
// collectors' pulls (each pod started up to half an hour before the hour,
// so the series are at every phase of the store's chunks), and reports the heap it then holds per point, the cost
// of Add per sample once every series is in place, of Latest per container (CPU and memory, as spend and
// the autoscaler read them each pass) and of one alert window (one type,
// the last five minutes, every series). Run it with -benchtime 1x: one
// iteration fills the store once.
//
//	go test -run '^$' -bench StoreHour -benchtime 1x ./metrics/
func BenchmarkStoreHour(b *testing.B) {
	for _, pods := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			for b.Loop() {
				storeHour(b, pods)
			}
		})
	}
}

// podSeries are the 18 series of a pod without volumes: what the kubelet
// and the log collector give for each container.
var podSeries = func() []model.MetricType {
	var out []model.MetricType
	for _, t := range model.MetricTypes {
		switch t {
		case model.MetricVolumeUsed, model.MetricVolumeCapacity, model.MetricVolumeInodes, model.MetricVolumeUsedPercent:
		default:
			out = append(out, t)
		}
	}
	return out
}()

// sampleValue is a plausible value of typ: rates and percentages change at
// every sample (the hardest for the encoding), byte counts move by pages,
// limits, requests and restarts stay put.
func sampleValue(rnd *rand.Rand, typ model.MetricType, pod, tick int) float64 {
	switch typ {
	case model.MetricCPU, model.MetricCPURequest, model.MetricCPULimit:
		if typ != model.MetricCPU {
			return 0.5
		}
		return rnd.Float64() * 0.5
	case model.MetricMemory, model.MetricMemoryRSS, model.MetricFilesystemUsed:
		return float64((100_000+pod%1000*100+tick%50)*4096 + rnd.IntN(8)*4096)
	case model.MetricMemoryLimit, model.MetricMemoryRequest:
		return 512 << 20
	case model.MetricRestarts:
		return float64(pod % 3)
	default: // bytes or lines a second, percentages
		return rnd.Float64() * 1000
	}
}

func storeHour(b *testing.B, pods int) {
	const podsPerNode = 10
	interval := 15 * time.Second
	ticks := int(time.Hour / interval)
	rnd := rand.New(rand.NewPCG(uint64(pods), 7))
	refs := make([]model.Ref, pods)
	for i := range refs {
		refs[i] = model.Ref{Project: fmt.Sprintf("ns-%03d", i%200), Service: fmt.Sprintf("app-%04d", i/10), Instance: fmt.Sprintf("app-%04d-%d", i/10, i%10), Container: "app"}
	}
	started := make([]int, pods)
	for i := range started {
		started[i] = rnd.IntN(ticks / 2)
	}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	batch := make([]model.Sample, 0, podsPerNode*len(podSeries))

	before := heapInUse()
	s := NewStore(time.Hour, interval)
	var adding time.Duration
	samples := 0
	for tick := range ticks/2 + ticks + 4 {
		for node := 0; node < pods; node += podsPerNode {
			// A collector's time: its pull, a few milliseconds off the interval.
			at := t0.Add(time.Duration(tick)*interval + time.Duration(rnd.IntN(50))*time.Millisecond)
			batch = batch[:0]
			for pod := node; pod < min(node+podsPerNode, pods); pod++ {
				if tick < started[pod] {
					continue
				}
				for _, typ := range podSeries {
					batch = append(batch, model.Sample{Ref: refs[pod], Type: typ, Time: at, Value: sampleValue(rnd, typ, pod, tick)})
				}
			}
			if tick < ticks/2+ticks-36 {
				s.Add(batch...)
				continue
			}
			// The last ten minutes, every series in place: the steady cost.
			start := time.Now()
			s.Add(batch...)
			adding += time.Since(start)
			samples += len(batch)
		}
	}
	held := heapInUse() - before
	points := 0
	for _, sr := range s.Query(Query{From: t0, To: t0.Add(3 * time.Hour)}) {
		points += len(sr.Points)
	}
	b.ReportMetric(float64(held)/float64(points), "heap-B/point")
	inPoints := 0
	for _, r := range s.series {
		inPoints += r.heldBytes()
	}
	b.ReportMetric(float64(inPoints)/float64(points), "points-B/point")
	b.ReportMetric(float64(held)/float64(pods)/1024, "heap-KiB/pod")
	b.ReportMetric(float64(adding.Nanoseconds())/float64(samples), "add-ns/sample")

	now := t0.Add(time.Duration(ticks/2+ticks+3) * interval)
	start := time.Now()
	for _, ref := range refs {
		for _, typ := range []model.MetricType{model.MetricCPU, model.MetricMemory} {
			if _, ok := s.Latest(ref, typ, now.Add(-time.Minute), now.Add(time.Second)); !ok {
				b.Fatal("no point")
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(2*pods), "latest-ns/container")

	start = time.Now()
	if got := s.Query(Query{Types: []model.MetricType{model.MetricCPU}, From: now.Add(-5 * time.Minute), To: now.Add(time.Second)}); len(got) != pods {
		b.Fatalf("%d series in the alert window, want %d", len(got), pods)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/1e6, "window-ms")
	runtime.KeepAlive(s)
}

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
