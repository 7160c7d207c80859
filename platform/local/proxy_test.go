package local

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// get sends one request through the proxy and returns status, instance
// header and body.
func get(t *testing.T, method, url, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get(InstanceHeader), string(data)
}

// TestProxyBalancesOverReadyInstances: requests alternate between two ready
// instances; when one refuses connections (while still ready as far as the
// runtime knows) requests, with or without a body, go to the other.
func TestProxyBalancesOverReadyInstances(t *testing.T) {
	port := sinktest.FreePort(t)
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "web",
		Command:  helperCommand(),
		Env:      map[string]string{helperEnv: "http"},
		Replicas: 2,
		Port:     port,
	})
	ins := h.waitInstances("demo", "web", "two ready instances", 15*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 2 && ins[0].Ready && ins[1].Ready && ins[0].Status == model.StatusRunning && ins[1].Status == model.StatusRunning
	})
	url := "http://127.0.0.1:" + strconv.Itoa(port)

	seen := map[string]int{}
	last := ""
	for i := range 6 {
		code, instance, body := get(t, "GET", url+"/hello", "")
		if code != 200 || !strings.HasPrefix(body, instance+" ") {
			t.Fatalf("request %d: %d from %q: %q", i, code, instance, body)
		}
		if instance == last {
			t.Errorf("request %d went to %s twice in a row", i, instance)
		}
		last = instance
		seen[instance]++
	}
	if seen[ins[0].Name] != 3 || seen[ins[1].Name] != 3 {
		t.Errorf("spread %v, want 3 each", seen)
	}

	// One instance stops accepting connections but keeps running.
	_, closed, _ := get(t, "GET", url+"/close", "")
	other := ins[0].Name
	if closed == other {
		other = ins[1].Name
	}
	for i := range 4 {
		method, body := "GET", ""
		if i%2 == 1 {
			method, body = "POST", "payload-"+strconv.Itoa(i)
		}
		code, instance, got := get(t, method, url+"/", body)
		if code != 200 || instance != other || got != other+" "+body {
			t.Errorf("%s after %s closed: %d from %q: %q", method, closed, code, instance, got)
		}
	}
	if n := len(h.instances("demo", "web")); n != 2 {
		t.Fatalf("%d instances", n)
	}
	if got := h.metricValue("opshub_local_proxy_requests_total", map[string]string{"project": "demo", "service": "web", "code": "200"}); got != 11 {
		t.Errorf("200 counter %v, want 11", got)
	}
}

// TestProxyWithoutReadyInstances: with no ready instance the proxy answers
// 503 with a JSON error naming the service.
func TestProxyWithoutReadyInstances(t *testing.T) {
	port := sinktest.FreePort(t)
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "web",
		Command:  []string{"/bin/sleep", "1000"}, // never listens on $PORT: stays Starting
		Replicas: 1,
		Port:     port,
	})
	h.waitInstances("demo", "web", "starting", 10*time.Second, allStatus(1, model.StatusStarting))
	code, _, body := get(t, "GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/", "")
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if code != http.StatusServiceUnavailable || got["error"] != "no ready instances of demo/web" {
		t.Errorf("%d %q", code, body)
	}
	if in := h.instances("demo", "web")[0]; in.Ready {
		t.Error("instance ready without listening")
	}
	if got := h.metricValue("opshub_local_proxy_requests_total", map[string]string{"project": "demo", "service": "web", "code": "503"}); got != 1 {
		t.Errorf("503 counter %v", got)
	}
}

// TestProxyPortInUse: Run fails at start-up naming the workload and port.
func TestProxyPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	h := newHarness(t, Options{}, Workload{Project: "demo", Name: "web", Command: []string{"/bin/sleep", "1000"}, Replicas: 1, Port: port})
	h.run()
	select {
	case err = <-h.errc:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not fail")
	}
	h.cancel = nil
	if err == nil || !strings.Contains(err.Error(), "demo/web") || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("error %v, want one naming demo/web and port %d", err, port)
	}
	if len(h.instances("demo", "web")) != 0 {
		t.Error("instances started although start-up failed")
	}
}
