package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// family is one metric family on /metrics.
type family struct {
	name, help string
	// counter families accumulate Increases; the others show the last value.
	counter bool
}

// families maps sample types to what /metrics shows. Rates are exposed as
// the counters they came from, so that Prometheus computes its own rates;
// percentages are left to queries.
var families = map[model.MetricType]family{
	model.MetricCPU:            {name: "opshub_container_cpu_usage_seconds_total", help: "CPU time used by the container, in seconds (accumulated across restarts while the container exists).", counter: true},
	model.MetricMemory:         {name: "opshub_container_memory_working_set_bytes", help: "Memory working set of the container: what the kernel cannot reclaim without swapping."},
	model.MetricMemoryRSS:      {name: "opshub_container_memory_rss_bytes", help: "Resident set size of the container's processes."},
	model.MetricMemoryLimit:    {name: "opshub_container_spec_memory_limit_bytes", help: "Memory limit of the container."},
	model.MetricCPULimit:       {name: "opshub_container_spec_cpu_limit_cores", help: "CPU limit of the container, in cores."},
	model.MetricMemoryRequest:  {name: "opshub_container_spec_memory_request_bytes", help: "Memory request of the container."},
	model.MetricCPURequest:     {name: "opshub_container_spec_cpu_request_cores", help: "CPU request of the container, in cores."},
	model.MetricNetworkRx:      {name: "opshub_container_network_receive_bytes_total", help: "Bytes received by the container.", counter: true},
	model.MetricNetworkTx:      {name: "opshub_container_network_transmit_bytes_total", help: "Bytes transmitted by the container.", counter: true},
	model.MetricDiskRead:       {name: "opshub_container_fs_read_bytes_total", help: "Bytes the container read from block devices.", counter: true},
	model.MetricDiskWrite:      {name: "opshub_container_fs_write_bytes_total", help: "Bytes the container wrote to block devices.", counter: true},
	model.MetricFilesystemUsed: {name: "opshub_container_fs_usage_bytes", help: "Bytes the container uses on its own writable filesystem."},
	model.MetricRestarts:       {name: "opshub_container_restarts_total", help: "Restarts of the container since it was created.", counter: true},
	model.MetricLogLines:       {name: "opshub_container_log_lines_total", help: "Log lines the container wrote, as counted by the collector.", counter: true},
	model.MetricVolumeUsed:     {name: "opshub_volume_used_bytes", help: "Bytes used on the volume."},
	model.MetricVolumeCapacity: {name: "opshub_volume_capacity_bytes", help: "Declared capacity of the volume, in bytes."},
	model.MetricVolumeInodes:   {name: "opshub_volume_inodes_used", help: "Files and directories on the volume."},
}

// seriesLabels are the labels of an exposed series, in this order; a label
// whose value is empty is left out (a volume series has no container, a
// container series no volume).
var seriesLabels = [...]string{"project", "service", "instance", "container", "volume"}

// exposedKey names one series of one family.
type exposedKey struct {
	ref    model.Ref
	volume string
}

func (k exposedKey) values() [len(seriesLabels)]string {
	return [...]string{k.ref.Project, k.ref.Service, k.ref.Instance, k.ref.Container, k.volume}
}

// Exposition holds the latest value of every container series for
// /metrics. It is a prometheus.Collector: each scrape builds constant
// metrics from the values it holds, as kube-state-metrics does, so a
// series exists exactly as long as its container. A container's series are
// removed as soon as a scrape no longer sees it (Retain), so a container
// that exits leaves /metrics within one scrape interval.
type Exposition struct {
	mu sync.Mutex
	// values are, per type, the shown value of each series: the last sample
	// of gauges, the accumulated increases of counters.
	values map[model.MetricType]map[exposedKey]float64
	// descs caches one description per type and set of present labels
	// (a bit per label of seriesLabels).
	descs map[model.MetricType]map[uint8]*prometheus.Desc
}

// NewExposition returns an empty exposition.
func NewExposition() *Exposition {
	e := &Exposition{
		values: map[model.MetricType]map[exposedKey]float64{},
		descs:  map[model.MetricType]map[uint8]*prometheus.Desc{},
	}
	for t := range families {
		e.values[t] = map[exposedKey]float64{}
		e.descs[t] = map[uint8]*prometheus.Desc{}
	}
	return e
}

// Update shows the samples' values; counter types are not taken from
// samples but grow by incs. Restarts are a counter whose value is the
// sample itself.
func (e *Exposition) Update(samples []model.Sample, incs []Increase) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range samples {
		f, ok := families[s.Type]
		if !ok || (f.counter && s.Type != model.MetricRestarts) {
			continue
		}
		e.values[s.Type][exposedKey{s.Ref, s.Volume}] = s.Value
	}
	for _, in := range incs {
		f, ok := families[in.Type]
		if !ok || !f.counter || in.Delta < 0 {
			continue
		}
		e.values[in.Type][exposedKey{ref: in.Ref}] += in.Delta
	}
}

// Retain removes the series of every ref not in live.
func (e *Exposition) Retain(live map[model.Ref]bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, series := range e.values {
		for k := range series {
			if !live[k.ref] {
				delete(series, k)
			}
		}
	}
}

// Len returns the number of series shown.
func (e *Exposition) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, series := range e.values {
		n += len(series)
	}
	return n
}

// Describe sends nothing: the label names of a family's series differ
// (volume series have no container label), so the registry treats the
// exposition as an unchecked collector.
func (e *Exposition) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series as a constant metric.
func (e *Exposition) Collect(ch chan<- prometheus.Metric) {
	type metric struct {
		desc   *prometheus.Desc
		kind   prometheus.ValueType
		value  float64
		labels []string
	}
	e.mu.Lock()
	out := make([]metric, 0, 256)
	for t, series := range e.values {
		kind := prometheus.GaugeValue
		if families[t].counter {
			kind = prometheus.CounterValue
		}
		for k, v := range series {
			desc, labels := e.descLocked(t, k)
			out = append(out, metric{desc, kind, v, labels})
		}
	}
	e.mu.Unlock()
	for _, m := range out {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value, m.labels...)
	}
}

// descLocked returns the description of k's series in family t and the
// values of its present labels.
func (e *Exposition) descLocked(t model.MetricType, k exposedKey) (*prometheus.Desc, []string) {
	all := k.values()
	var present uint8
	values := make([]string, 0, len(all))
	for i, v := range all {
		if v != "" {
			present |= 1 << i
			values = append(values, v)
		}
	}
	desc := e.descs[t][present]
	if desc == nil {
		var names []string
		for i, name := range seriesLabels {
			if present&(1<<i) != 0 {
				names = append(names, name)
			}
		}
		desc = prometheus.NewDesc(families[t].name, families[t].help, names, nil)
		e.descs[t][present] = desc
	}
	return desc, values
}
