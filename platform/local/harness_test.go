package local

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// harness runs a Runtime for one test.
type harness struct {
	t      *testing.T
	r      *Runtime
	reg    *prometheus.Registry
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

// start runs a runtime over workloads in a fresh data dir unless opts has
// one, waits until it is Ready and stops it at the end of the test.
func start(t *testing.T, opts Options, workloads ...Workload) *harness {
	t.Helper()
	h := newHarness(t, opts, workloads...)
	h.run()
	sinktest.WaitFor(t, 15*time.Second, "runtime ready", func() bool {
		select {
		case err := <-h.errc:
			t.Fatalf("Run returned during start-up: %v", err)
		default:
		}
		return h.r.Ready()
	})
	return h
}

func newHarness(t *testing.T, opts Options, workloads ...Workload) *harness {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	reg := prometheus.NewRegistry()
	if opts.Registerer == nil {
		opts.Registerer = reg
	}
	if opts.Logger == nil && testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := New(opts, workloads)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, r: r, reg: reg, errc: make(chan error, 1)}
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errc <- h.r.Run(ctx) }()
}

// stop ends Run and returns how long it took to return.
func (h *harness) stop() time.Duration {
	h.t.Helper()
	began := time.Now()
	h.once.Do(func() {
		if h.cancel == nil {
			return
		}
		h.cancel()
		select {
		case h.err = <-h.errc:
			if h.err != nil {
				h.t.Errorf("Run: %v", h.err)
			}
		case <-time.After(40 * time.Second):
			h.t.Errorf("Run did not return after its context ended")
		}
	})
	return time.Since(began)
}

func (h *harness) service(project, name string) model.Service {
	h.t.Helper()
	s, err := h.r.Service(context.Background(), project, name)
	if err != nil {
		h.t.Fatalf("Service: %v", err)
	}
	return s
}

// instances returns the service's instances.
func (h *harness) instances(project, name string) []model.Instance {
	return h.service(project, name).Instances
}

// waitInstances waits until cond holds for the service's instances.
func (h *harness) waitInstances(project, name, what string, timeout time.Duration, cond func([]model.Instance) bool) []model.Instance {
	h.t.Helper()
	var last []model.Instance
	sinktest.WaitFor(h.t, timeout, what, func() bool {
		last = h.instances(project, name)
		return cond(last)
	})
	return last
}

// allStatus holds when there are n instances, all with status.
func allStatus(n int, status model.Status) func([]model.Instance) bool {
	return func(ins []model.Instance) bool {
		if len(ins) != n {
			return false
		}
		for _, in := range ins {
			if in.Status != status {
				return false
			}
		}
		return true
	}
}

// metricValue reads one sample from the harness's registry; labels must
// match exactly. It returns -1 when the series does not exist.
func (h *harness) metricValue(name string, labels map[string]string) float64 {
	h.t.Helper()
	return gatherValue(h.t, h.reg, name, labels)
}

func gatherValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	st, err := readProcStat("/proc", pid)
	return err == nil && st.alive()
}

// groupMembers lists the live processes of a process group.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	procs, err := listProcs("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range procs {
		if p.PGRP == pgid && p.alive() {
			out = append(out, p.PID)
		}
	}
	return out
}

// mustAtoi is strconv.Atoi for test data.
func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
