package metrics

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestStoreLatest(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := NewStore(time.Hour, 15*time.Second)
	web := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	sidecar := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "proxy"}
	bare := model.Ref{Project: "demo", Service: "job", Instance: "job-0"} // a source that names no container
	for i := range 4 {
		at := t0.Add(time.Duration(i) * 15 * time.Second)
		s.Add(
			model.Sample{Ref: web, Type: model.MetricCPU, Time: at, Value: float64(i)},
			model.Sample{Ref: sidecar, Type: model.MetricCPU, Time: at, Value: 10 + float64(i)},
			model.Sample{Ref: bare, Type: model.MetricMemory, Time: at, Value: 100 + float64(i)},
			model.Sample{Ref: web.ServiceRef(), Type: model.MetricVolumeUsed, Volume: "data", Time: at, Value: 50},
		)
	}
	end := t0.Add(45 * time.Second)
	tests := []struct {
		name     string
		ref      model.Ref
		typ      model.MetricType
		from, to time.Time
		want     string
	}{
		{"the container's own series, its newest point", web, model.MetricCPU, end.Add(-30 * time.Second), end, "3"},
		{"another container of the same pod", sidecar, model.MetricCPU, end.Add(-30 * time.Second), end, "13"},
		{"the newest point before the window's end", web, model.MetricCPU, t0, t0.Add(20 * time.Second), "1"},
		{"no point in the window", web, model.MetricCPU, end.Add(time.Second), end.Add(time.Minute), "none"},
		{"no series of the type", web, model.MetricMemory, t0, end, "none"},
		{"an instance without a container name: the first container's", model.Ref{Project: "demo", Service: "web", Instance: "web-0"}, model.MetricCPU, t0, end, "13"},
		{"a source that names no container", model.Ref{Project: "demo", Service: "job", Instance: "job-0", Container: "job"}, model.MetricMemory, t0, end, "103"},
		{"another instance", model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}, model.MetricCPU, t0, end, "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := "none"
			if p, ok := s.Latest(tc.ref, tc.typ, tc.from, tc.to); ok {
				got = fmt.Sprint(p.Value)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	s.Prune(end.Add(2 * time.Hour))
	if _, ok := s.Latest(web, model.MetricCPU, t0, end); ok || len(s.byInstance) != 0 {
		t.Errorf("after pruning every series: %d instances indexed", len(s.byInstance))
	}
}

// BenchmarkUsageEveryContainer10k reads the latest CPU and memory of each
// of 10,000 containers, as spend and the autoscaler do at each pass: with
// Query (a scan of every series per container: quadratic) and with Latest.
func BenchmarkUsageEveryContainer10k(b *testing.B) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := NewStore(time.Hour, 15*time.Second)
	var refs []model.Ref
	for i := range 10000 {
		ref := model.Ref{Project: fmt.Sprintf("ns-%03d", i%200), Service: fmt.Sprintf("app-%04d", i/10), Instance: fmt.Sprintf("app-%04d-%d", i/10, i%10), Container: "app"}
		refs = append(refs, ref)
		for _, typ := range model.MetricTypes {
			for j := range 4 {
				s.Add(model.Sample{Ref: ref, Type: typ, Time: now.Add(time.Duration(j-3) * 15 * time.Second), Value: float64(j)})
			}
		}
	}
	from := now.Add(-30 * time.Second)
	b.Run("Latest", func(b *testing.B) {
		for b.Loop() {
			for _, ref := range refs {
				for _, typ := range []model.MetricType{model.MetricCPU, model.MetricMemory} {
					if _, ok := s.Latest(ref, typ, from, now); !ok {
						b.Fatal("no point")
					}
				}
			}
		}
	})
	b.Run("Query", func(b *testing.B) {
		for b.Loop() {
			for _, ref := range refs[:100] { // a hundredth: a scan each
				for _, typ := range []model.MetricType{model.MetricCPU, model.MetricMemory} {
					if len(s.Query(Query{Project: ref.Project, Service: ref.Service, Container: ref.Instance, Types: []model.MetricType{typ}, From: from, To: now})) == 0 {
						b.Fatal("no series")
					}
				}
			}
		}
	})
}

// BenchmarkStoreHourOf1000Pods fills a store with an hour of every type's
// samples for 1,000 containers (half the types constant page-sized byte
// counts, half fractions) and reports the heap it holds: the controller
// keeps this for every pod of a cluster.
func BenchmarkStoreHourOf1000Pods(b *testing.B) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		s := NewStore(time.Hour, 15*time.Second)
		for j := range 240 {
			var batch []model.Sample
			for i := range 1000 {
				ref := model.Ref{Project: fmt.Sprintf("ns-%03d", i%200), Service: fmt.Sprintf("app-%04d", i/10), Instance: fmt.Sprintf("app-%04d-%d", i/10, i%10), Container: "app"}
				for k, typ := range model.MetricTypes {
					v := float64(j*k) * 0.37
					if k%2 == 0 {
						v = float64(4096 * (1000 + k))
					}
					batch = append(batch, model.Sample{Ref: ref, Type: typ, Time: now.Add(time.Duration(j)*15*time.Second + time.Duration(i)*time.Millisecond), Value: v})
				}
			}
			s.Add(batch...)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), "heap-MiB")
		runtime.KeepAlive(s)
	}
}
