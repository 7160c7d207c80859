package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// dashboardConfigMap is what the install manifests hold for one dashboard.
type dashboardConfigMap struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
}

// dashboardUIDs lists the uids of dashboards/grafana/*.json, the dashboards
// users import.
func dashboardUIDs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "dashboards", "grafana", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in ../dashboards/grafana: %v", err)
	}
	var uids []string
	for _, f := range files {
		uids = append(uids, "opshub-"+strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	slices.Sort(uids)
	return uids
}

// dashboardsIn decodes every dashboard ConfigMap of a YAML stream and
// returns the uids of the dashboards they carry, checking each on the way.
func dashboardsIn(t *testing.T, stream []byte, wantNamespace string) []string {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	var uids []string
	for {
		var cm dashboardConfigMap
		err := dec.Decode(&cm)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if cm.Kind != "ConfigMap" || !strings.HasPrefix(cm.Metadata.Name, "opshub-dashboard-") {
			continue
		}
		if cm.Metadata.Labels["grafana_dashboard"] != "1" {
			t.Errorf("%s: labels %v, want grafana_dashboard: \"1\" for Grafana's sidecar", cm.Metadata.Name, cm.Metadata.Labels)
		}
		if cm.Metadata.Namespace != wantNamespace {
			t.Errorf("%s: namespace %q, want %q", cm.Metadata.Name, cm.Metadata.Namespace, wantNamespace)
		}
		if len(cm.Data) != 1 {
			t.Errorf("%s: %d data keys, want one dashboard", cm.Metadata.Name, len(cm.Data))
		}
		for key, text := range cm.Data {
			var d struct {
				UID    string `json:"uid"`
				Panels []any  `json:"panels"`
			}
			if err := json.Unmarshal([]byte(text), &d); err != nil {
				t.Errorf("%s: %s is not a dashboard: %v", cm.Metadata.Name, key, err)
				continue
			}
			if key != d.UID+".json" || len(d.Panels) == 0 {
				t.Errorf("%s: key %s holds uid %q with %d panels", cm.Metadata.Name, key, d.UID, len(d.Panels))
			}
			uids = append(uids, d.UID)
		}
	}
	slices.Sort(uids)
	return uids
}

func TestChartInstallsDashboardsOnlyWhenAsked(t *testing.T) {
	out, err := helm(t, "template", "opshub", "helm/opshub", "--namespace", "opshub")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	if strings.Contains(out, "opshub-dashboard-") {
		t.Error("the default values install dashboards; they must be off by default")
	}
	out, err = helm(t, "template", "opshub", "helm/opshub", "--namespace", "opshub",
		"--set", "grafanaDashboards.enabled=true", "--set", "grafanaDashboards.namespace=monitoring", "--set", "grafanaDashboards.folder=opshub")
	if err != nil {
		t.Fatalf("helm template with grafanaDashboards.enabled: %v\n%s", err, out)
	}
	if got, want := dashboardsIn(t, []byte(out), "monitoring"), dashboardUIDs(t); !slices.Equal(got, want) {
		t.Errorf("the chart installs dashboards %v, want %v", got, want)
	}
	if !strings.Contains(out, `grafana_folder: "opshub"`) {
		t.Error("grafanaDashboards.folder is not set as the grafana_folder annotation")
	}
}

func TestKustomizeDashboardsComponent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("kubernetes", "dashboards", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for _, r := range k.Resources {
		data, err := os.ReadFile(filepath.Join("kubernetes", "dashboards", r))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, "---\n"...), data...)
	}
	if got, want := dashboardsIn(t, stream, "opshub"), dashboardUIDs(t); !slices.Equal(got, want) {
		t.Errorf("the kustomize component installs dashboards %v, want %v", got, want)
	}
	base, err := os.ReadFile(filepath.Join("kubernetes", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(base), "dashboards") {
		t.Error("the base installs the dashboards; they must be off by default")
	}
}
