// Command hpareplay feeds a utilization trace to opshub's autoscaler and
// prints the replica timeline, one line per decision pass, with what limited
// each decision. It is how the HPA rules are checked against worked examples
// (testdata/*.trace with golden timelines) and how a policy can be tried on
// a recorded load before it runs.
//
//	hpareplay [-step 15s] TRACE...
//
// A trace is text. Blank lines and lines starting with # are ignored;
// everything after # on a line is a comment.
//
//	policy min=1 max=10 cpu=50                  # metrics: cpu=<target%>, memory=<target%>
//	behavior up.window=0s down.window=300s      # optional; also up.select=, down.select=,
//	                                             # up.policies=Pods:4:15s+Percent:100:15s
//	replicas 1                                  # instances at the start
//	startup 30s                                 # a new instance is pending this long
//	end 10m                                     # last pass
//	0s   0.40                                   # from this time on, the service uses
//	2m   3 missing=i1 unready=i2,i3             # this much CPU in total (cores, or
//	90s  2500m                                  # millicores with m), spread evenly over
//	                                             # ready instances; optionally named
//	                                             # instances lack metrics or fail readiness
//
// Instances are named i0, i1, … in the order they start. Every instance
// requests one core (1000m) and 1 GiB. The load is replayed in whole
// millicores: each serving instance gets demand / serving millicores, the
// first ones one more until the remainder is spent, so the samples add up
// to the demand exactly; memory use is the same share of 1 GiB, in bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hpareplay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	step := fs.Duration("step", 15*time.Second, "time between decision passes (the HPA's sync period)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: hpareplay [-step 15s] TRACE...")
		return 2
	}
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "hpareplay: %v\n", err)
			return 1
		}
		tr, err := parseTrace(f, path)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "hpareplay: %v\n", err)
			return 1
		}
		if fs.NArg() > 1 {
			fmt.Fprintf(stdout, "== %s\n", path)
		}
		replay(tr, *step, stdout)
	}
	return 0
}

// trace is a parsed trace file.
type trace struct {
	policy   autoscaler.Policy
	replicas int
	startup  time.Duration
	end      time.Duration
	phases   []phase
}

// phase is the load from a point in time on.
type phase struct {
	from time.Duration
	// demand is in millicores.
	demand  int64
	missing map[string]bool
	unready map[string]bool
}

func parseTrace(r io.Reader, name string) (*trace, error) {
	tr := &trace{replicas: 1, end: 10 * time.Minute}
	tr.policy.Behavior = autoscaler.DefaultBehavior()
	sc := bufio.NewScanner(r)
	line := 0
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "policy":
			for _, kv := range fields[1:] {
				k, v, _ := strings.Cut(kv, "=")
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, fail("policy %s: %q is not a number", k, v)
				}
				switch k {
				case "min":
					tr.policy.MinReplicas = n
				case "max":
					tr.policy.MaxReplicas = n
				case "cpu", "memory":
					tr.policy.Metrics = append(tr.policy.Metrics, autoscaler.Metric{Resource: autoscaler.Resource(k), TargetUtilization: n})
				default:
					return nil, fail("unknown policy key %q (min, max, cpu, memory)", k)
				}
			}
		case "behavior":
			for _, kv := range fields[1:] {
				if err := setBehavior(&tr.policy.Behavior, kv); err != nil {
					return nil, fail("%v", err)
				}
			}
		case "replicas", "startup", "end":
			if len(fields) != 2 {
				return nil, fail("%s takes one value", fields[0])
			}
			if fields[0] == "replicas" {
				n, err := strconv.Atoi(fields[1])
				if err != nil || n < 0 {
					return nil, fail("replicas %q is not a count", fields[1])
				}
				tr.replicas = n
				continue
			}
			d, err := time.ParseDuration(fields[1])
			if err != nil {
				return nil, fail("%s: %v", fields[0], err)
			}
			if fields[0] == "startup" {
				tr.startup = d
			} else {
				tr.end = d
			}
		default:
			from, err := time.ParseDuration(fields[0])
			if err != nil {
				return nil, fail("want a keyword or a time, got %q", fields[0])
			}
			if len(fields) < 2 {
				return nil, fail("a load line needs a demand in cores")
			}
			ph := phase{from: from}
			var demand config.CPU
			if err := demand.UnmarshalText([]byte(fields[1])); err != nil {
				return nil, fail("demand %q is not a number of cores (0.5) or millicores (500m)", fields[1])
			}
			ph.demand = int64(demand)
			ph.missing, ph.unready = map[string]bool{}, map[string]bool{}
			for _, kv := range fields[2:] {
				k, v, _ := strings.Cut(kv, "=")
				set := map[string]map[string]bool{"missing": ph.missing, "unready": ph.unready}[k]
				if set == nil {
					return nil, fail("unknown load key %q (missing, unready)", k)
				}
				for _, name := range strings.Split(v, ",") {
					set[name] = true
				}
			}
			if len(tr.phases) > 0 && from <= tr.phases[len(tr.phases)-1].from {
				return nil, fail("load lines must go forward in time")
			}
			tr.phases = append(tr.phases, ph)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(tr.phases) == 0 {
		return nil, fmt.Errorf("%s: no load lines", name)
	}
	if err := tr.policy.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return tr, nil
}

// setBehavior applies one key=value of a behavior line.
func setBehavior(b *autoscaler.Behavior, kv string) error {
	k, v, _ := strings.Cut(kv, "=")
	dir, field, ok := strings.Cut(k, ".")
	var r *autoscaler.Rules
	switch {
	case ok && dir == "up":
		r = &b.ScaleUp
	case ok && dir == "down":
		r = &b.ScaleDown
	default:
		return fmt.Errorf("behavior key %q: want up.<field> or down.<field>", k)
	}
	switch field {
	case "window":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
		r.StabilizationWindow = d
	case "select":
		r.SelectPolicy = autoscaler.SelectPolicy(v)
	case "policies":
		r.Policies = nil
		for _, p := range strings.Split(v, "+") {
			parts := strings.Split(p, ":")
			if len(parts) != 3 {
				return fmt.Errorf("%s: policy %q: want Kind:value:period", k, p)
			}
			n, err := strconv.Atoi(parts[1])
			if err != nil {
				return fmt.Errorf("%s: policy %q: %v", k, p, err)
			}
			d, err := time.ParseDuration(parts[2])
			if err != nil {
				return fmt.Errorf("%s: policy %q: %v", k, p, err)
			}
			r.Policies = append(r.Policies, autoscaler.RatePolicy{Kind: autoscaler.RateKind(parts[0]), Value: n, Period: d})
		}
	default:
		return fmt.Errorf("behavior key %q: fields are window, select, policies", k)
	}
	return nil
}

// instance is one simulated instance.
type instance struct {
	name    string
	started time.Time
}

// replay runs the decision passes and writes one line per pass.
func replay(tr *trace, step time.Duration, w io.Writer) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		st        autoscaler.State
		instances []instance
		next      int
	)
	add := func(started time.Time, n int) {
		for range n {
			instances = append(instances, instance{name: fmt.Sprintf("i%d", next), started: started})
			next++
		}
	}
	// Instances present at the start have been running for an hour.
	add(base.Add(-time.Hour), tr.replicas)
	opts := autoscaler.DefaultOptions()
	for at := time.Duration(0); at <= tr.end; at += step {
		now := base.Add(at)
		ph := tr.phases[0]
		for _, p := range tr.phases {
			if p.from <= at {
				ph = p
			}
		}
		pods := simulate(tr, ph, instances, now)
		d := autoscaler.Decide(opts, tr.policy, &st, now, len(instances), pods)
		fmt.Fprintf(w, "%6s  demand %6s  %s  %2d -> %2d  %s: %s\n", at, fmt.Sprintf("%dm", ph.demand), describe(d, pods), d.Current, d.Desired, d.Limit, d.Reason)
		if d.Scaled() {
			st.RecordScale(tr.policy.Behavior, now, d.Current, d.Desired)
			if d.Desired > d.Current {
				add(now, d.Desired-d.Current)
			} else {
				instances = instances[:d.Desired]
			}
		}
	}
}

// simulate turns the load of a phase into per-instance samples: demand is
// spread evenly over ready instances in whole millicores; new instances are
// pending for the startup delay; the instances the phase names lack metrics
// or are unready.
func simulate(tr *trace, ph phase, instances []instance, now time.Time) []autoscaler.Pod {
	pods := make([]autoscaler.Pod, len(instances))
	serving := 0
	for i, in := range instances {
		readyAt := in.started.Add(tr.startup)
		p := autoscaler.Pod{
			Name:       in.name,
			StartTime:  in.started,
			Ready:      !readyAt.After(now),
			ReadySince: readyAt,
			Pending:    readyAt.After(now),
			Requests:   map[autoscaler.Resource]float64{autoscaler.CPU: 1, autoscaler.Memory: 1 << 30},
			Usage:      map[autoscaler.Resource]autoscaler.Sample{},
		}
		if p.Ready && ph.unready[in.name] {
			p.Ready, p.ReadySince = false, in.started
		}
		if p.Ready {
			serving++
		}
		pods[i] = p
	}
	var share, extra int64
	if serving > 0 {
		share, extra = ph.demand/int64(serving), ph.demand%int64(serving)
	}
	for i := range pods {
		if !pods[i].Ready {
			continue
		}
		// Every ready instance serves, measured or not.
		use := share
		if extra > 0 {
			use, extra = use+1, extra-1
		}
		if !ph.missing[pods[i].Name] {
			measure(&pods[i], use, now)
		}
	}
	for i := range pods {
		// A running instance that fails readiness gets no traffic but is
		// still measured, at an idle 50m.
		if !pods[i].Ready && !pods[i].Pending && !ph.missing[pods[i].Name] {
			measure(&pods[i], idleMillicores, now)
		}
	}
	return pods
}

// idleMillicores is what a running instance that gets no traffic uses.
const idleMillicores = 50

// measure gives an instance a sample of millicores of CPU, and the same
// share of its 1 GiB request of memory, in bytes.
func measure(p *autoscaler.Pod, millicores int64, now time.Time) {
	p.Usage[autoscaler.CPU] = autoscaler.Sample{Value: float64(millicores) / 1000, Time: now, Window: 15 * time.Second}
	p.Usage[autoscaler.Memory] = autoscaler.Sample{Value: float64(millicores * (1 << 30) / 1000), Time: now, Window: 15 * time.Second}
}

// describe summarizes the instances and the metrics of a pass.
func describe(d autoscaler.Decision, pods []autoscaler.Pod) string {
	ready := 0
	for _, p := range pods {
		if p.Ready {
			ready++
		}
	}
	var ms []string
	for _, m := range d.Metrics {
		if m.Invalid != "" {
			ms = append(ms, fmt.Sprintf("%s:invalid", m.Resource))
			continue
		}
		ms = append(ms, fmt.Sprintf("%s:%3d%%->%2d", m.Resource, m.Utilization, m.Replicas))
	}
	if len(ms) == 0 {
		ms = append(ms, "-")
	}
	return fmt.Sprintf("ready %2d/%2d  %-14s", ready, len(pods), strings.Join(ms, " "))
}
