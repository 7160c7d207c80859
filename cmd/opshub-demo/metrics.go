package main

import (
	"bufio"
	"io"
	"math"
	"strconv"
)

// exposition writes the Prometheus text format by hand: one HELP and TYPE
// pair per family, then its samples. Label values here come from a fixed set
// (the two stream names), so they need no escaping.
type exposition struct {
	w *bufio.Writer
}

func (e exposition) family(name, typ, help string) {
	e.w.WriteString("# HELP " + name + " " + help + "\n")
	e.w.WriteString("# TYPE " + name + " " + typ + "\n")
}

func (e exposition) sample(name, labels string, v float64) {
	e.w.WriteString(name)
	if labels != "" {
		e.w.WriteString("{" + labels + "}")
	}
	e.w.WriteByte(' ')
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		e.w.WriteString(strconv.FormatInt(int64(v), 10))
	} else {
		e.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	}
	e.w.WriteByte('\n')
}

// writeMetrics writes the demo's metrics to w.
func (d *Demo) writeMetrics(w io.Writer) error {
	set, _ := d.knobs.get()
	e := exposition{w: bufio.NewWriter(w)}

	e.family("opshub_demo_requests_total", "counter", "HTTP requests this instance has received.")
	e.sample("opshub_demo_requests_total", "", float64(d.requests.Load()))

	e.family("opshub_demo_log_lines_total", "counter", "Lines written to each output stream, of any kind.")
	for _, s := range []*stream{d.stderr, d.stdout} {
		e.sample("opshub_demo_log_lines_total", `stream="`+s.name+`"`, float64(s.lines.Load()))
	}

	e.family("opshub_demo_memory_held_bytes", "gauge", "Bytes allocated, touched and held by the memory knob.")
	e.sample("opshub_demo_memory_held_bytes", "", float64(d.memory.held.Load()))

	e.family("opshub_demo_cpu_burn_cores", "gauge", "Cores the cpu knob keeps busy.")
	e.sample("opshub_demo_cpu_burn_cores", "", set.cpu)

	e.family("opshub_demo_volume_written_bytes", "gauge", "Bytes this process has written into the volume directory.")
	e.sample("opshub_demo_volume_written_bytes", "", float64(d.volumeWritten()))

	e.family("opshub_demo_ready", "gauge", "1 when /ready answers 200, else 0.")
	ready := 0.0
	if set.isReady(d.now()) {
		ready = 1
	}
	e.sample("opshub_demo_ready", "", ready)

	return e.w.Flush()
}
