package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// promtool returns the path of promtool (Debian package prometheus). Outside
// CI a missing one skips the test; in CI it fails it.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("promtool not installed (Debian package prometheus); CI installs it through .ci/deps.d/dashboards.sh")
		}
		t.Fatal("promtool not found in CI: .ci/deps.d/dashboards.sh must install the Debian package prometheus")
	}
	return bin
}

// TestPrometheusRules checks dashboards/prometheus/rules.yaml and runs its
// unit tests, rules_test.yaml, with promtool.
func TestPrometheusRules(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join("prometheus")
	for _, args := range [][]string{
		{"check", "rules", "rules.yaml"},
		{"test", "rules", "rules_test.yaml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
