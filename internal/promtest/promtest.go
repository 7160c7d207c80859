// Package promtest starts a real Prometheus (the Debian package's binary)
// for tests: it scrapes opshub's /metrics and receives remote
// write. It is for tests only and must not be imported by product code.
package promtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// Prometheus is a running Prometheus server.
type Prometheus struct {
	URL string
}

// Start runs Prometheus with the given configuration file content and the
// remote write receiver on. Outside CI a missing binary skips the test; in
// CI it fails it.
func Start(t *testing.T, config string) *Prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		sinktest.Missing(t, "prometheus is not installed: the Debian package prometheus (.ci/deps.d/metrics.sh)")
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := sinktest.StartListening(t, "prometheus", 30*time.Second, func(addr string) *exec.Cmd {
		return exec.Command(bin,
			"--config.file="+cfgFile,
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
			"--web.enable-remote-write-receiver",
			"--log.level=warn",
		)
	}, func(addr string) bool { return sinktest.HTTPReady("http://" + addr + "/-/ready")() })
	return &Prometheus{URL: "http://" + addr}
}

// Sample is one element of an instant query's vector result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query.
func (p *Prometheus) Query(expr string) ([]Sample, error) {
	data, err := apiGet[struct {
		Result []struct {
			Metric map[string]string
			Value  [2]any
		}
	}](p.URL+"/api/v1/query?query="+url.QueryEscape(expr), "query "+expr)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", expr, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// WaitQuery polls expr until it returns n samples or the timeout passes.
func (p *Prometheus) WaitQuery(t *testing.T, expr string, n int, timeout time.Duration) []Sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := p.Query(expr)
		if err == nil && len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: %d samples after %s (err %v), want %d", expr, len(got), timeout, err, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// CheckMetrics runs `promtool check metrics` on an exposition and fails the
// test with promtool's findings.
func CheckMetrics(t testing.TB, exposition string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		sinktest.Missing(t, "promtool is not installed: the Debian package prometheus (.ci/deps.d/metrics.sh)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, exposition)
	}
}

// LabelValues returns the values of label on the series that match
// selects, as Grafana's label_values(selector, label) does.
func (p *Prometheus) LabelValues(label, match string) ([]string, error) {
	return apiGet[[]string](p.URL+"/api/v1/label/"+url.PathEscape(label)+"/values?match[]="+url.QueryEscape(match),
		fmt.Sprintf("label values of %s on %s", label, match))
}

// apiGet reads the data of a Prometheus HTTP API answer; an answer that
// does not decode or whose status is not success is an error starting with
// what.
func apiGet[T any](url, what string) (T, error) {
	var zero T
	resp, err := http.Get(url)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   T
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	if body.Status != "success" {
		return zero, fmt.Errorf("%s: %s", what, body.Error)
	}
	return body.Data, nil
}
