package deploy_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opshub/opshub/internal/kubetest"
)

// helm runs helm (kubetest.Helm) on the chart and returns its output,
// standard output and error together.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := kubetest.Helm(t, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestChartLints(t *testing.T) {
	if out, err := helm(t, "lint", "--strict", "helm/opshub"); err != nil {
		t.Fatalf("helm lint --strict: %v\n%s", err, out)
	}
}

func TestChartValuesSchemaRejectsMistakes(t *testing.T) {
	for _, tc := range []struct {
		name, set, want string
	}{
		{"replicas as a word", "controller.replicas=two", "replicas"},
		{"a misspelt key", "controller.replica=3", "replica"},
		{"an unknown pull policy", "image.pullPolicy=Sometimes", "pullPolicy"},
		{"a port out of range", "service.port=70000", "port"},
		{"an env var without a name", "collector.extraEnv[0].value=x", "name"},
		{"the exec switch as a word", "controller.exec.enabled=yes", "enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t, "template", "opshub", "helm/opshub", "--namespace", "opshub", "--set", tc.set)
			if err == nil {
				t.Fatalf("--set %s rendered:\n%.300s", tc.set, out)
			}
			if !strings.Contains(out, "values don't meet the specifications of the schema") || !strings.Contains(out, tc.want) {
				t.Errorf("--set %s: the error does not name %q:\n%s", tc.set, tc.want, out)
			}
		})
	}
}
