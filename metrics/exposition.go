package metrics

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/opshub/opshub/model"
)

// family is one metric family on /metrics. Each has its own
// VictoriaMetrics set, so that its HELP and TYPE lines can be written just
// before its series without turning on the library's process-wide metadata.
type family struct {
	name, help, kind string
	// counter families accumulate Increases; the others show the last value.
	counter bool
	set     *vm.Set
}

// families maps sample types to what /metrics shows. Rates are exposed as
// the counters they came from, so that Prometheus computes its own rates;
// percentages are left to queries.
var families = map[model.MetricType]*family{
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

func init() {
	for _, f := range families {
		f.kind = "gauge"
		if f.counter {
			f.kind = "counter"
		}
	}
}

// Exposition holds the latest value of every container series for
// /metrics. It implements server.MetricWriter. A container's series are
// removed as soon as a scrape no longer sees it (Retain), so a container
// that exits leaves /metrics within one scrape interval.
type Exposition struct {
	mu       sync.Mutex
	families map[model.MetricType]*family
	// series maps a ref to the full names (with labels) it has, per type.
	series map[model.Ref]map[string]model.MetricType
	// totals are the accumulated values of counter series.
	totals map[string]float64
}

// NewExposition returns an empty exposition.
func NewExposition() *Exposition {
	e := &Exposition{
		families: map[model.MetricType]*family{},
		series:   map[model.Ref]map[string]model.MetricType{},
		totals:   map[string]float64{},
	}
	for t, f := range families {
		cp := *f
		cp.set = vm.NewSet()
		e.families[t] = &cp
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
		f := e.families[s.Type]
		if f == nil || (f.counter && s.Type != model.MetricRestarts) {
			continue
		}
		name := e.nameLocked(s.Ref, s.Type, s.Volume)
		f.set.GetOrCreateGauge(name, nil).Set(s.Value)
	}
	for _, in := range incs {
		f := e.families[in.Type]
		if f == nil || !f.counter || in.Delta < 0 {
			continue
		}
		name := e.nameLocked(in.Ref, in.Type, "")
		e.totals[name] += in.Delta
		f.set.GetOrCreateGauge(name, nil).Set(e.totals[name])
	}
}

// nameLocked returns the series name with its labels and remembers it
// under its ref.
func (e *Exposition) nameLocked(ref model.Ref, t model.MetricType, volume string) string {
	var b strings.Builder
	b.WriteString(e.families[t].name)
	b.WriteByte('{')
	label := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > len(e.families[t].name)+1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, k, escapeLabel(v))
	}
	label("project", ref.Project)
	label("service", ref.Service)
	label("instance", ref.Instance)
	label("container", ref.Container)
	label("volume", volume)
	b.WriteByte('}')
	name := b.String()
	m := e.series[ref]
	if m == nil {
		m = map[string]model.MetricType{}
		e.series[ref] = m
	}
	m[name] = t
	return name
}

// Retain removes the series of every ref not in live.
func (e *Exposition) Retain(live map[model.Ref]bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ref, names := range e.series {
		if live[ref] {
			continue
		}
		for name, t := range names {
			e.families[t].set.UnregisterMetric(name)
			delete(e.totals, name)
		}
		delete(e.series, ref)
	}
}

// Len returns the number of series shown.
func (e *Exposition) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, names := range e.series {
		n += len(names)
	}
	return n
}

// WritePrometheus writes every family with series in the text format.
func (e *Exposition) WritePrometheus(w io.Writer) {
	e.mu.Lock()
	fams := make([]*family, 0, len(e.families))
	for _, f := range e.families {
		if len(f.set.ListMetricNames()) > 0 {
			fams = append(fams, f)
		}
	}
	e.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	for _, f := range fams {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		f.set.WritePrometheus(w)
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(v string) string { return labelEscaper.Replace(v) }
