package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// demoBinary builds cmd/opshub-demo once per test binary.
var demoBinary = func() func(t *testing.T) string {
	var path string
	var err error
	built := false
	return func(t *testing.T) string {
		t.Helper()
		if !built {
			built = true
			dir, mkErr := os.MkdirTemp("", "opshub-demo-")
			if mkErr != nil {
				t.Fatal(mkErr)
			}
			path = filepath.Join(dir, "opshub-demo")
			out, buildErr := exec.Command("go", "build", "-o", path, "github.com/opshub/opshub/cmd/opshub-demo").CombinedOutput()
			if buildErr != nil {
				err = fmt.Errorf("build opshub-demo: %v\n%s", buildErr, out)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
}()

func getJSON(url string, out any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == 200 {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// runningOpshub is `opshub run` started in-process by a test, its API on a
// free loopback port.
type runningOpshub struct {
	API    string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startRun runs cfg until the test ends (or stop is called).
func startRun(t *testing.T, cfg *config.Config, opts app.Options) *runningOpshub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningOpshub{API: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(ctx, cfg, opts) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// stop ends the run and returns Run's error; calling it again returns the
// same error.
func (r *runningOpshub) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

// TestRunOnOneMachine runs the product as `make run` does, in-process: two
// web instances behind the front proxy and a crash-looping worker, and checks
// what a newcomer checks by hand.
func TestRunOnOneMachine(t *testing.T) {
	demo := demoBinary(t)
	dataDir := t.TempDir()
	webPort := sinktest.FreePort(t)
	cfgText := fmt.Sprintf(`
dataDir: %s
workloads:
  - name: web
    project: demo
    command: [%s, --listen, "127.0.0.1:${PORT}", --log-rate, "20"]
    replicas: 2
    port: %d
    env: {GREETING: hello}
    gracePeriod: 5s
  - name: crashy
    project: demo
    command: [%s, --no-http, --exit-after, 50ms, --exit-code, "3"]
`, dataDir, demo, webPort, demo)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := startRun(t, cfg, app.Options{})
	api := run.API

	sinktest.WaitFor(t, 30*time.Second, "/readyz to answer 200", func() bool {
		code, _ := getJSON(api+"/readyz", nil)
		return code == 200
	})

	var services struct{ Services []model.Service }
	find := func(name string) model.Service {
		for _, s := range services.Services {
			if s.Name == name {
				return s
			}
		}
		return model.Service{}
	}
	sinktest.WaitFor(t, 20*time.Second, "both web instances ready and crashy in back-off", func() bool {
		if _, err := getJSON(api+"/api/v1/services", &services); err != nil {
			return false
		}
		web, crashy := find("web"), find("crashy")
		if len(web.Instances) != 2 || len(crashy.Instances) != 1 {
			return false
		}
		for _, in := range web.Instances {
			if !in.Ready || in.Status != model.StatusRunning {
				return false
			}
		}
		c := crashy.Instances[0]
		return c.Status == model.StatusCrashing && c.Restarts >= 1 && c.Backoff != "" &&
			c.LastExit != nil && c.LastExit.Code == 3
	})

	// The front proxy answers from both instances.
	seen := map[string]bool{}
	for i := 0; i < 20 && len(seen) < 2; i++ {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", webPort))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "hello") {
			t.Fatalf("proxy answered %d %q", resp.StatusCode, body)
		}
		seen[resp.Header.Get("X-Opshub-Instance")] = true
	}
	if len(seen) != 2 {
		t.Fatalf("proxy reached %d instances over 20 requests, want 2: %v", len(seen), seen)
	}

	// Output is in the kubelet's layout and CRI format.
	web := find("web")
	in := web.Instances[0]
	logPath := filepath.Join(dataDir, "pods", fmt.Sprintf("demo_%s_%s", in.Name, in.UID), "web", "0.log")
	cri := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (stdout|stderr) [PF] `)
	sinktest.WaitFor(t, 10*time.Second, "CRI log lines in "+logPath, func() bool {
		f, err := os.Open(logPath)
		if err != nil {
			return false
		}
		defer f.Close()
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if !cri.MatchString(sc.Text()) {
				t.Fatalf("not a CRI line in %s: %q", logPath, sc.Text())
			}
			n++
		}
		return n >= 5
	})

	// Stopping opshub stops every child within its grace period.
	var pids []int
	for _, in := range web.Instances {
		pids = append(pids, in.PID)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- run.stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within the grace period")
	}
	for _, pid := range pids {
		if pid == 0 {
			t.Fatal("instance without PID in the API")
		}
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("instance process %d still alive after stop", pid)
		}
	}
}
