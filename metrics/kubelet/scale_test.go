package kubelet

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

// cadvisorText renders a node's cAdvisor exposition for n single-container
// pods, with the families the kubelet really serves per container (about
// fifty lines each), most of which the parser drops.
func cadvisorText(n int, at time.Time, cpu func(i int) float64, started func(i int) time.Time) []byte {
	var b bytes.Buffer
	ts := at.UnixMilli()
	family := func(name, typ string, each func(i int, labels string)) {
		fmt.Fprintf(&b, "# HELP %s %s of the container.\n# TYPE %s %s\n", name, name, name, typ)
		for i := range n {
			labels := fmt.Sprintf(`container="app",id="/kubepods/burstable/pod%04d/%064d",image="registry.example.com/team/app:v1.2.3",name="%064d",namespace="ns%d",pod="app%d-7f9c4d5b8-%05d"`, i, i, i, i%10, i%30, i)
			each(i, labels)
		}
	}
	simple := func(name, typ string, v func(i int) float64) {
		family(name, typ, func(i int, labels string) { fmt.Fprintf(&b, "%s{%s} %g %d\n", name, labels, v(i), ts) })
	}
	simple("container_cpu_usage_seconds_total", "counter", cpu)
	simple("container_cpu_user_seconds_total", "counter", func(i int) float64 { return cpu(i) * 0.8 })
	simple("container_cpu_system_seconds_total", "counter", func(i int) float64 { return cpu(i) * 0.2 })
	simple("container_cpu_cfs_periods_total", "counter", func(i int) float64 { return 1e5 })
	simple("container_cpu_cfs_throttled_periods_total", "counter", func(i int) float64 { return 10 })
	simple("container_cpu_cfs_throttled_seconds_total", "counter", func(i int) float64 { return 1.5 })
	simple("container_cpu_load_average_10s", "gauge", func(i int) float64 { return 0 })
	for _, name := range []string{"container_memory_cache", "container_memory_mapped_file", "container_memory_max_usage_bytes",
		"container_memory_rss", "container_memory_swap", "container_memory_usage_bytes", "container_memory_working_set_bytes",
		"container_memory_kernel_usage"} {
		simple(name, "gauge", func(i int) float64 { return float64(64<<20 + i) })
	}
	family("container_memory_failures_total", "counter", func(i int, labels string) {
		for _, scope := range []string{"container", "hierarchy"} {
			for _, typ := range []string{"pgfault", "pgmajfault"} {
				fmt.Fprintf(&b, "container_memory_failures_total{%s,failure_type=%q,scope=%q} %d %d\n", labels, typ, scope, i*100, ts)
			}
		}
	})
	for _, name := range []string{"container_fs_reads_bytes_total", "container_fs_writes_bytes_total", "container_fs_reads_total",
		"container_fs_writes_total", "container_fs_read_seconds_total", "container_fs_write_seconds_total",
		"container_fs_io_time_seconds_total", "container_fs_io_current"} {
		family(name, "counter", func(i int, labels string) {
			fmt.Fprintf(&b, "%s{%s,device=\"/dev/sda\"} %d %d\n", name, labels, i*4096, ts)
		})
	}
	for _, name := range []string{"container_network_receive_bytes_total", "container_network_transmit_bytes_total",
		"container_network_receive_packets_total", "container_network_transmit_packets_total",
		"container_network_receive_errors_total", "container_network_transmit_errors_total",
		"container_network_receive_packets_dropped_total", "container_network_transmit_packets_dropped_total"} {
		family(name, "counter", func(i int, labels string) {
			fmt.Fprintf(&b, "%s{%s,interface=\"eth0\"} %d %d\n", name, labels, i*1000, ts)
		})
	}
	family("container_tasks_state", "gauge", func(i int, labels string) {
		for _, st := range []string{"iowaiting", "running", "sleeping", "stopped", "uninterruptible"} {
			fmt.Fprintf(&b, "container_tasks_state{%s,state=%q} 0 %d\n", labels, st, ts)
		}
	})
	simple("container_last_seen", "gauge", func(i int) float64 { return float64(at.Unix()) })
	simple("container_processes", "gauge", func(i int) float64 { return 3 })
	simple("container_threads", "gauge", func(i int) float64 { return 12 })
	simple("container_file_descriptors", "gauge", func(i int) float64 { return 20 })
	simple("container_sockets", "gauge", func(i int) float64 { return 4 })
	simple("container_ulimits_soft", "gauge", func(i int) float64 { return 1 << 20 })
	simple("container_spec_cpu_period", "gauge", func(i int) float64 { return 1e5 })
	simple("container_spec_cpu_quota", "gauge", func(i int) float64 { return 1e5 })
	simple("container_spec_cpu_shares", "gauge", func(i int) float64 { return 512 })
	simple("container_spec_memory_limit_bytes", "gauge", func(i int) float64 { return 512 << 20 })
	simple("container_spec_memory_reservation_limit_bytes", "gauge", func(i int) float64 { return 0 })
	simple("container_spec_memory_swap_limit_bytes", "gauge", func(i int) float64 { return 0 })
	simple("container_start_time_seconds", "gauge", func(i int) float64 { return float64(started(i).Unix()) })
	return b.Bytes()
}

const nodeContainers = 300

// TestRatesAcross300Containers reads two scrapes of a 300-container node 15 s
// apart, in which one container restarted (its counter began again) and one
// counter went down without a new start time, and checks every rate.
func TestRatesAcross300Containers(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	boot := t0.Add(-time.Hour)
	const restarted, reset = 7, 8
	first := cadvisorText(nodeContainers, t0, func(i int) float64 { return 1000 + float64(i) }, func(int) time.Time { return boot })
	second := cadvisorText(nodeContainers, t0.Add(15*time.Second), func(i int) float64 {
		switch i {
		case restarted:
			return 1.5 // ran 1.5 s since its restart
		case reset:
			return 3 // lower than before, same start time
		}
		return 1000 + float64(i) + 7.5 // half a core for 15 s
	}, func(i int) time.Time {
		if i == restarted {
			return t0.Add(10 * time.Second)
		}
		return boot
	})

	src := &Source{opts: Options{ServiceOf: ServiceFromPodName}}
	rater := metrics.NewRater()
	var samples []model.Sample
	for _, text := range [][]byte{first, second} {
		stats, err := parseCAdvisor(bytes.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		readings := src.readings(stats, time.Now())
		if len(readings) != nodeContainers {
			t.Fatalf("%d readings, want %d", len(readings), nodeContainers)
		}
		samples, _ = rater.Convert(readings)
	}
	rates := 0
	for _, s := range samples {
		if s.Type != model.MetricCPU {
			continue
		}
		rates++
		want := 0.5
		switch s.Instance {
		case fmt.Sprintf("app%d-7f9c4d5b8-%05d", restarted, restarted):
			want = 1.5 / 15
		case fmt.Sprintf("app%d-7f9c4d5b8-%05d", reset, reset):
			want = 3.0 / 15
		}
		if math.Abs(s.Value-want) > 1e-9 {
			t.Errorf("%s: %v cores, want %v", s.Instance, s.Value, want)
		}
	}
	if rates != nodeContainers {
		t.Errorf("%d cpu rates, want %d", rates, nodeContainers)
	}
}

// BenchmarkCAdvisor300 parses a 300-container node's cAdvisor exposition
// into readings, as every 15 s scrape does. Target: under 50 ms.
func BenchmarkCAdvisor300(b *testing.B) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	text := cadvisorText(nodeContainers, t0, func(i int) float64 { return float64(i) }, func(int) time.Time { return t0 })
	src := &Source{opts: Options{ServiceOf: ServiceFromPodName}}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		stats, err := parseCAdvisor(bytes.NewReader(text))
		if err != nil {
			b.Fatal(err)
		}
		if n := len(src.readings(stats, t0)); n != nodeContainers {
			b.Fatalf("%d readings", n)
		}
	}
}
