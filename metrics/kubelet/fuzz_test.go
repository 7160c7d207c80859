package kubelet

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

// FuzzCAdvisor: whatever a kubelet answers on /metrics/cadvisor, parsing
// does not panic, every reading holds finite numbers, and the fast path
// (dropping families and labels before parsing) reads what parsing the
// whole text would.
func FuzzCAdvisor(f *testing.F) {
	sample, err := os.ReadFile("testdata/cadvisor.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte("container_cpu_usage_seconds_total{namespace=\"demo\",pod=\"web-0\",container=\"web\"} NaN\n" +
		"container_memory_working_set_bytes{namespace=\"demo\",pod=\"web-0\",container=\"web\"} +Inf\n"))
	f.Add([]byte("container_memory_rss{id=\"a\\\"},b\",namespace=\"demo\",pod=\"p\\\\\",container=\"c\",} 3 1795946400000\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		stats, err := parseCAdvisor(bytes.NewReader(text))
		if err != nil {
			return
		}
		src := &Source{opts: Options{ServiceOf: ServiceFromPodName}}
		for _, r := range src.readings(stats, time.Unix(1795946400, 0)) {
			checkFinite(t, r)
		}
		parser := expfmt.NewTextParser(pmodel.UTF8Validation)
		whole, err := parser.TextToMetricFamilies(bytes.NewReader(text))
		if err != nil {
			return
		}
		if want := statsOf(whole); !reflect.DeepEqual(stats, want) {
			t.Fatalf("fast path read %v, the whole text %v", dump(stats), dump(want))
		}
	})
}

// FuzzSummary: whatever a kubelet answers on /stats/summary, reading it
// does not panic and gives finite numbers.
func FuzzSummary(f *testing.F) {
	sample, err := os.ReadFile("testdata/summary.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte(`{"pods":[{"podRef":{"name":"web-0","namespace":"demo"},"containers":[{"name":"web","rootfs":{"usedBytes":18446744073709551615}}],"volume":[{"name":"data"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sum, err := parseSummary(bytes.NewReader(body))
		if err != nil {
			return
		}
		now := time.Unix(1795946400, 0)
		readings := []metrics.Reading{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}, Time: now}}
		readings = append(addSummary(readings, sum, ServiceFromPodName), volumeReadings(sum, ServiceFromPodName, now)...)
		for _, r := range readings {
			checkFinite(t, r)
		}
	})
}

func checkFinite(t *testing.T, r metrics.Reading) {
	t.Helper()
	values := []metrics.Value{r.Restarts, r.CPUSeconds, r.NetworkRxBytes, r.NetworkTxBytes, r.DiskReadBytes, r.DiskWriteBytes,
		r.MemoryWorkingSet, r.MemoryRSS, r.FilesystemUsed, r.CPURequest, r.CPULimit, r.MemoryRequest, r.MemoryLimit}
	for _, v := range r.Volumes {
		values = append(values, v.Used, v.Capacity, v.Inodes)
	}
	for i, v := range values {
		if v.Valid && (math.IsNaN(v.V) || math.IsInf(v.V, 0)) {
			t.Fatalf("%v: value %d is %v", r.Ref, i, v.V)
		}
	}
}

func dump(stats map[containerKey]*containerStats) map[containerKey]containerStats {
	out := map[containerKey]containerStats{}
	for k, v := range stats {
		out[k] = *v
	}
	return out
}
