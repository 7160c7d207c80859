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
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, body.Error)
	}
	var out []Sample
	for _, r := range body.Data.Result {
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
	resp, err := http.Get(p.URL + "/api/v1/label/" + url.PathEscape(label) + "/values?match[]=" + url.QueryEscape(match))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   []string
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("label values of %s on %s: %w", label, match, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("label values of %s on %s: %s", label, match, body.Error)
	}
	return body.Data, nil
}
