// Command probes-load measures what HTTP probes cost the process that runs
// them: -probes containers, each with one HTTP probe (GET /healthz) every
// -period, against a few opshub-demo processes, through the same
// probes.Manager and workers that `opshub run` uses. After a warm-up it
// counts -rounds periods and reports the probe runs done, the CPU time of
// this process (getrusage: user + system) as a share of one core, and the
// CPU the demo processes spent answering (from /proc, for information: they
// are not the prober). It exits 1 when the prober uses more than -max-core.
//
//	go build -o bin/ ./cmd/opshub-demo && go run ./bench/probes
//	go run ./bench/probes -probes 1000 -period 1s -rounds 30 -demos 4
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/probes"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		n       = flag.Int("probes", 1000, "HTTP probes (one container each)")
		period  = flag.Duration("period", time.Second, "probe period")
		rounds  = flag.Int("rounds", 30, "periods measured after the warm-up")
		warmup  = flag.Int("warmup", 3, "periods before measuring (first-run jitter spreads the probes over the first)")
		demos   = flag.Int("demos", 4, "opshub-demo processes the probes are spread over")
		demo    = flag.String("demo", "bin/opshub-demo", "the demo binary")
		maxCore = flag.Float64("max-core", 0.10, "fail above this share of one core")
		profile = flag.String("cpuprofile", "", "write a CPU profile of the measured rounds to this file")
	)
	flag.Parse()
	if *warmup+*rounds >= probes.HistorySize {
		fmt.Fprintf(os.Stderr, "-warmup + -rounds must stay below %d: runs are counted from the probes' histories\n", probes.HistorySize)
		return 2
	}
	if *period < time.Second || *period%time.Second != 0 {
		fmt.Fprintln(os.Stderr, "-period must be whole seconds, as periodSeconds is")
		return 2
	}

	ports := make([]int, *demos)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
			_ = p.Wait()
		}
	}()
	for i := range ports {
		port, err := sinktest.FreeLoopbackPort()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd := exec.Command(*demo, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--instance", "bench-"+strconv.Itoa(i))
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "start %s: %v (build it with `go build -o bin/ ./cmd/opshub-demo`)\n", *demo, err)
			return 1
		}
		procs = append(procs, cmd)
		ports[i] = port
		if err := waitListening(port, 10*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := probes.NewManager(probes.Options{})
	containers := make([]*probes.Container, *n)
	done := make(chan struct{}, *n)
	for i := range containers {
		c, err := m.NewContainer(probes.ContainerConfig{
			Ref: model.Ref{Project: "bench", Service: "web", Instance: "web-" + strconv.Itoa(i), Container: "web"},
			Probes: probes.Set{Liveness: &probes.Spec{
				HTTP:   &probes.HTTPAction{Path: "/healthz"},
				Period: *period, Timeout: time.Second, FailureThreshold: 3,
			}},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c.RunStarted(probes.Run{ID: 1, StartedAt: time.Now(), Target: probes.Target{Port: ports[i%len(ports)]}})
		containers[i] = c
		go func() {
			c.Run(ctx)
			done <- struct{}{}
		}()
	}

	time.Sleep(time.Duration(*warmup) * *period)
	runs0, fails0 := count(containers)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	user0, sys0 := cpuSplit()
	cpu0, demo0, wall0 := cpuSeconds(), demoSeconds(procs), time.Now()
	time.Sleep(time.Duration(*rounds) * *period)
	if *profile != "" {
		pprof.StopCPUProfile()
	}
	runs1, fails1 := count(containers)
	cpu1, demo1, wall := cpuSeconds(), demoSeconds(procs), time.Since(wall0)
	user1, sys1 := cpuSplit()
	cancel()
	for range containers {
		<-done
	}

	runs, fails := runs1-runs0, fails1-fails0
	cpu := cpu1 - cpu0
	share := cpu / wall.Seconds()
	fmt.Printf("probes %d, period %s, %d demo processes, measured %d rounds (%.1fs)\n", *n, *period, *demos, *rounds, wall.Seconds())
	fmt.Printf("probe runs       %d (%.0f/s), failed %d\n", runs, float64(runs)/wall.Seconds(), fails)
	fmt.Printf("prober CPU       %.3fs = %.1f%% of one core, %.1f µs per run (user %.3fs, system %.3fs)\n",
		cpu, 100*share, 1e6*cpu/float64(max(runs, 1)), user1-user0, sys1-sys0)
	fmt.Printf("demo CPU         %.3fs = %.1f%% of one core (answering, not counted)\n", demo1-demo0, 100*(demo1-demo0)/wall.Seconds())
	want := int64(float64(*n) * wall.Seconds() / period.Seconds())
	switch {
	case runs < want*9/10:
		fmt.Printf("FAIL: %d runs, want about %d: probes fell behind\n", runs, want)
		return 1
	case fails > 0:
		fmt.Printf("FAIL: %d runs failed, the last with: %s\n", fails, lastFailure(containers))
		return 1
	case share > *maxCore:
		fmt.Printf("FAIL: the prober used %.1f%% of one core, over %.0f%%\n", 100*share, 100**maxCore)
		return 1
	}
	fmt.Printf("ok: under %.0f%% of one core\n", 100**maxCore)
	return 0
}

// count adds up the runs the containers' probes kept in their histories,
// and the failed ones. A history holds probes.HistorySize runs, so the
// counts are exact while warm-up and rounds stay below that.
func count(cs []*probes.Container) (runs, fails int64) {
	for _, c := range cs {
		for _, st := range c.Status(true) {
			for _, r := range st.History {
				if r.Result == string(probes.Failure) {
					fails++
				}
			}
			runs += int64(len(st.History))
		}
	}
	return runs, fails
}

// lastFailure is the message of one of the latest failures.
func lastFailure(cs []*probes.Container) string {
	var msg string
	var at time.Time
	for _, c := range cs {
		for _, st := range c.Status(false) {
			if f := st.LastFailure; f != nil && f.Time.After(at) {
				msg, at = f.Message, f.Time
			}
		}
	}
	return msg
}

func cpuSeconds() float64 {
	user, sys := cpuSplit()
	return user + sys
}

// cpuSplit is this process's user and system CPU time in seconds.
func cpuSplit() (user, sys float64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()) / 1e9, float64(ru.Stime.Nano()) / 1e9
}

// demoSeconds is the CPU time of the demo processes, from /proc/<pid>/stat
// (utime + stime in clock ticks of 1/100 s).
func demoSeconds(procs []*exec.Cmd) float64 {
	var total float64
	for _, p := range procs {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Process.Pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) > 12 {
			u, _ := strconv.ParseFloat(fields[11], 64)
			st, _ := strconv.ParseFloat(fields[12], 64)
			total += (u + st) / 100
		}
	}
	return total
}

func waitListening(port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo on port %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
