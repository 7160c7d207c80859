package kubelet

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
)

// containerKey names one container of one pod. Container is empty for
// pod-level series (the pod's network, which cAdvisor reports for the
// sandbox).
type containerKey struct {
	namespace, pod, container string
}

// containerStats are one container's cAdvisor numbers. Zero times and
// negative values mean the series was absent.
type containerStats struct {
	time                     time.Time // cAdvisor's collection time of the CPU counter
	started                  time.Time
	cpuSeconds               float64
	workingSet, rss          float64
	readBytes, writeBytes    float64
	rxBytes, txBytes         float64
	cpuQuota, cpuPeriod      float64
	cpuShares, memoryLimit   float64
	hasCPU, hasMem, hasRSS   bool
	hasDisk, hasNet, hasSpec bool
}

// cadvisorFamilies are the families read; the others (dozens per
// container) are dropped before parsing, which is most of the parsing cost.
var cadvisorFamilies = map[string]bool{
	"container_cpu_usage_seconds_total":      true,
	"container_memory_working_set_bytes":     true,
	"container_memory_rss":                   true,
	"container_fs_reads_bytes_total":         true,
	"container_fs_writes_bytes_total":        true,
	"container_network_receive_bytes_total":  true,
	"container_network_transmit_bytes_total": true,
	"container_start_time_seconds":           true,
	"container_spec_cpu_quota":               true,
	"container_spec_cpu_period":              true,
	"container_spec_cpu_shares":              true,
	"container_spec_memory_limit_bytes":      true,
}

// parseCAdvisor reads the kubelet's /metrics/cadvisor exposition. Series
// without a pod (the node's and system slices' cgroups) are ignored; series
// of the pause container ("POD") and with an empty container name are the
// pod's.
func parseCAdvisor(r io.Reader) (map[containerKey]*containerStats, error) {
	filtered, err := keepFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("read cadvisor metrics: %w", err)
	}
	parser := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(filtered))
	if err != nil {
		return nil, fmt.Errorf("parse cadvisor metrics: %w", err)
	}
	return statsOf(fams), nil
}

// statsOf reads the families parseCAdvisor keeps. A sample that is not a
// finite number (the text format allows NaN and ±Inf) is left out: it
// would poison every rate and sum computed from it.
func statsOf(fams map[string]*dto.MetricFamily) map[containerKey]*containerStats {
	out := map[containerKey]*containerStats{}
	for name, mf := range fams {
		if !cadvisorFamilies[name] {
			continue
		}
		for _, m := range mf.GetMetric() {
			k, ok := keyOf(m)
			if !ok {
				continue
			}
			v := value(m)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			st := out[k]
			if st == nil {
				st = &containerStats{}
				out[k] = st
			}
			switch name {
			case "container_cpu_usage_seconds_total":
				// Old cAdvisors also split CPU per core next to a "total".
				switch cpu := labelValue(m, "cpu"); cpu {
				case "", "total":
					st.cpuSeconds = v
				default:
					continue
				}
				st.hasCPU = true
				if ts := m.GetTimestampMs(); ts > 0 {
					st.time = time.UnixMilli(ts)
				}
			case "container_memory_working_set_bytes":
				st.workingSet, st.hasMem = v, true
			case "container_memory_rss":
				st.rss, st.hasRSS = v, true
			case "container_fs_reads_bytes_total":
				st.readBytes += v
				st.hasDisk = true
			case "container_fs_writes_bytes_total":
				st.writeBytes += v
				st.hasDisk = true
			case "container_network_receive_bytes_total":
				st.rxBytes += v
				st.hasNet = true
			case "container_network_transmit_bytes_total":
				st.txBytes += v
				st.hasNet = true
			case "container_start_time_seconds":
				st.started = time.Unix(0, int64(v*1e9))
			case "container_spec_cpu_quota":
				st.cpuQuota, st.hasSpec = v, true
			case "container_spec_cpu_period":
				st.cpuPeriod = v
			case "container_spec_cpu_shares":
				st.cpuShares, st.hasSpec = v, true
			case "container_spec_memory_limit_bytes":
				st.memoryLimit, st.hasSpec = v, true
			}
		}
	}
	return out
}

// keepFamilies copies the lines of the families parseCAdvisor reads.
func keepFamilies(r io.Reader) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(1 << 20)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		name := line
		if bytes.HasPrefix(line, []byte("# ")) {
			// "# HELP name …" or "# TYPE name …"
			f := bytes.Fields(line)
			if len(f) < 3 {
				continue
			}
			name = f[2]
		} else if i := bytes.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if !cadvisorFamilies[string(name)] {
			continue
		}
		if line[0] == '#' || !writeKeptLabels(&out, line) {
			out.Write(line)
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), sc.Err()
}

// keptLabels are the labels parseCAdvisor looks at. cAdvisor's other labels
// (id, image, name: long cgroup paths and digests) are most of each line.
var keptLabels = map[string]bool{"namespace": true, "pod": true, "container": true, "cpu": true}

// writeKeptLabels writes a sample line with only the kept labels. It
// returns false, writing nothing, when the line is not of the simple shape
// name{k="v",…} rest; the caller then passes the line on whole for expfmt
// to judge.
func writeKeptLabels(out *bytes.Buffer, line []byte) bool {
	open := bytes.IndexByte(line, '{')
	if open < 0 {
		return false
	}
	start := out.Len()
	out.Write(line[:open+1])
	i, first := open+1, true
	for {
		if i < len(line) && line[i] == ',' {
			i++
		}
		if i < len(line) && line[i] == '}' {
			break
		}
		eq := bytes.IndexByte(line[i:], '=')
		if eq < 0 || i+eq+1 >= len(line) || line[i+eq+1] != '"' {
			out.Truncate(start)
			return false
		}
		key := line[i : i+eq]
		// Find the closing quote, stepping over escapes.
		j := i + eq + 2
		for j < len(line) && line[j] != '"' {
			if line[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(line) {
			out.Truncate(start)
			return false
		}
		if keptLabels[string(key)] {
			if !first {
				out.WriteByte(',')
			}
			out.Write(line[i : j+1])
			first = false
		}
		i = j + 1
	}
	out.Write(line[i:])
	return true
}

func keyOf(m *dto.Metric) (containerKey, bool) {
	var k containerKey
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "namespace":
			k.namespace = l.GetValue()
		case "pod":
			k.pod = l.GetValue()
		case "container":
			k.container = l.GetValue()
		}
	}
	if k.container == "POD" {
		k.container = ""
	}
	return k, k.namespace != "" && k.pod != ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
