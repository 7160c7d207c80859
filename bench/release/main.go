// Command release measures rollouts on one machine: for each instance count
// it runs `opshub run` in-process with an opshub-demo service behind the
// front proxy, sends an open-loop stream of GET requests through the proxy
// (internal/loadgen, bounded in rate, count and time, loopback only) while
// -deploys releases are rolled out one after the other, and reports the
// requests per second, the failed requests (must be 0), the requests that
// started more than 5 ms behind schedule, the time from deploy to
// succeeded, and the proxy's added latency: before the rollouts, requests
// through the proxy and requests sent straight to one instance run at the
// same time, at half the rate each, for -latency-window, so that both
// distributions see the same moments of the machine; the added latency is
// the difference of their p50 and p99. Each row ends with the 1-minute load
// average. The output is a Markdown table. It exits 1 when a request
// failed.
//
//	go build -o bin/ ./cmd/opshub-demo && go run ./bench/release
//	go run ./bench/release -instances 1,3,10 -rps 1000 -deploys 3 -latency-window 20s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/loadgen"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		demo      = flag.String("demo", "bin/opshub-demo", "the demo binary")
		instances = flag.String("instances", "1,3,10", "instance counts to measure, comma-separated")
		rps       = flag.Float64("rps", 1000, "requests per second through the proxy")
		workers   = flag.Int("workers", 32, "concurrent clients to start with (more are started while requests are due and none is free)")
		deploys   = flag.Int("deploys", 3, "releases rolled out one after the other per instance count")
		latency   = flag.Duration("latency-window", 10*time.Second, "how long the latency sample (proxy and direct at the same time) runs")
	)
	flag.Parse()
	abs, err := filepath.Abs(*demo)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo binary: %v (build it: go build -o bin/ ./cmd/opshub-demo)\n", err)
		return 2
	}
	fmt.Printf("| instances | req/s | requests | failed | late | deploy → succeeded | proxy p50 / p99 | direct p50 / p99 | added p50 / p99 | load |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	failed := false
	for _, f := range strings.Split(*instances, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "-instances: %q is not a count\n", f)
			return 2
		}
		row, err := measure(abs, n, *rps, *workers, *deploys, *latency)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%d instances: %v\n", n, err)
			return 1
		}
		fmt.Println(row.String())
		if row.load.Failed > 0 {
			failed = true
			fmt.Fprintf(os.Stderr, "%d instances: %d failed requests: %v %v\n", n, row.load.Failed, row.load.Codes, row.load.FirstFailures)
		}
	}
	if failed {
		return 1
	}
	return 0
}

type result struct {
	instances     int
	load          loadgen.Result
	took          []time.Duration
	proxy, direct loadgen.Result
	loadavg       string // the 1-minute load average when the row was done
}

func (r result) String() string {
	var took []string
	for _, d := range r.took {
		took = append(took, d.Round(10*time.Millisecond).String())
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	pair := func(a, b time.Duration) string { return ms(a) + " / " + ms(b) + " ms" }
	p := func(res loadgen.Result) (time.Duration, time.Duration) { return res.Percentile(50), res.Percentile(99) }
	p50, p99 := p(r.proxy)
	d50, d99 := p(r.direct)
	return fmt.Sprintf("| %d | %.0f | %d | %d | %d | %s | %s | %s | %s | %s |", r.instances, r.load.RPS(), r.load.Sent, r.load.Failed, r.load.Late,
		strings.Join(took, ", "), pair(p50, p99), pair(d50, d99), pair(p50-d50, p99-d99), r.loadavg)
}

func measure(demo string, n int, rps float64, workers, deploys int, window time.Duration) (result, error) {
	res := result{instances: n}
	dir, err := os.MkdirTemp("", "opshub-bench-release-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	port, err := sinktest.FreeLoopbackPort()
	if err != nil {
		return res, err
	}
	cfg, err := app.ParseConfig(fmt.Appendf(nil, `
dataDir: %s
workloads:
  - name: web
    project: bench
    command: [%s, --listen, "127.0.0.1:${PORT}"]
    replicas: %d
    port: %d
    env: {GREETING: v0}
    gracePeriod: 10s
    probes:
      readiness: {http: {path: /ready}, periodSeconds: 1}
`, dir, demo, n, port), "bench.yaml")
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	api := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, app.Options{Listener: ln}) }()
	defer func() { cancel(); <-done }()

	svcURL := api + "/api/v1/services/bench/web"
	svc, err := waitService(svcURL, n)
	if err != nil {
		return res, err
	}
	proxyURL := fmt.Sprintf("http://127.0.0.1:%d/", port)
	directURL := fmt.Sprintf("http://127.0.0.1:%d/", svc.Instances[0].Port)

	// Latency without a rollout, through the proxy and straight to one
	// instance in the same window, half the rate each: a stall of the
	// machine hits both samples alike.
	sctx, stopSample := context.WithTimeout(context.Background(), window)
	sampled := make(chan loadgen.Result, 1)
	go func() {
		sampled <- loadgen.Run(sctx, loadgen.Options{URL: directURL, Rate: rps / 2, Workers: max(workers/2, 1)})
	}()
	res.proxy = loadgen.Run(sctx, loadgen.Options{URL: proxyURL, Rate: rps / 2, Workers: max(workers/2, 1)})
	res.direct = <-sampled
	stopSample()
	if f := res.proxy.Failed + res.direct.Failed; f > 0 {
		return res, fmt.Errorf("latency sample: %d failed requests: %v %v", f, res.proxy.FirstFailures, res.direct.FirstFailures)
	}

	lctx, stopLoad := context.WithTimeout(context.Background(), 10*time.Minute)
	defer stopLoad()
	loaded := make(chan loadgen.Result, 1)
	go func() { loaded <- loadgen.Run(lctx, loadgen.Options{URL: proxyURL, Rate: rps, Workers: workers}) }()
	time.Sleep(time.Second) // steady load before the first deploy
	for i := 1; i <= deploys; i++ {
		took, err := deploy(svcURL, i)
		if err != nil {
			stopLoad()
			<-loaded
			return res, err
		}
		res.took = append(res.took, took)
	}
	time.Sleep(time.Second)
	stopLoad()
	res.load = <-loaded
	res.loadavg = loadAverage()
	return res, nil
}

// loadAverage is the 1-minute load average, "?" where /proc has none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func waitService(url string, n int) (model.Service, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var body struct{ Services []model.Service }
		if err := getJSON(url, &body); err == nil && len(body.Services) == 1 {
			s := body.Services[0]
			ready := 0
			for _, in := range s.Instances {
				if in.Ready {
					ready++
				}
			}
			if ready == n && len(s.Instances) == n {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return model.Service{}, fmt.Errorf("%d instances not ready within 60s", n)
}

// deploy rolls out GREETING=v<i> and returns the time to succeeded.
func deploy(svcURL string, i int) (time.Duration, error) {
	began := time.Now()
	body := fmt.Sprintf(`{"env": {"GREETING": "v%d"}, "version": "%d"}`, i, i)
	resp, err := http.Post(svcURL+"/deploy", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	var dep struct{ Release model.Release }
	err = json.NewDecoder(resp.Body).Decode(&dep)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("deploy: %d %v", resp.StatusCode, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var out struct{ Releases []model.Release }
		if err := getJSON(svcURL+"/releases", &out); err == nil {
			for _, r := range out.Releases {
				if r.Revision != dep.Release.Revision {
					continue
				}
				switch r.State {
				case model.ReleaseSucceeded:
					return time.Since(began), nil
				case model.ReleaseProgressing:
				default:
					return 0, fmt.Errorf("revision %d %s: %s", r.Revision, r.State, r.Reason)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("revision %d not done within 5m", dep.Release.Revision)
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
