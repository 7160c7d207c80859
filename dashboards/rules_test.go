package dashboards

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opshub/opshub/internal/sinktest"
)

// promtool returns the path of promtool (Debian package prometheus): a
// missing one fails the test in CI and skips it elsewhere.
func promtool(t *testing.T) string {
	t.Helper()
	return sinktest.Binary(t, "promtool", "the Debian package prometheus (.ci/deps.d/dashboards.sh, make deps)")
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
