package deploy_test

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
)

// The variables the pods' downward API sets and the shipped config names.
var podEnv = map[string]string{"NODE_NAME": "node-a", "POD_NAME": "opshub-collector-x1", "POD_NAMESPACE": "opshub", "POD_IP": "10.1.2.3"}

// baseConfig is config.yaml of the kustomize base's ConfigMap.
func baseConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatalf("kubernetes/configmap.yaml: %v", err)
	}
	return cm.Data["config.yaml"]
}

// chartConfig is the config of the chart's default values, as YAML.
func chartConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("helm/opshub/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatalf("helm/opshub/values.yaml: %v", err)
	}
	out, err := yaml.Marshal(values.Config)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestShippedConfigIsValidOnANode(t *testing.T) {
	for k, v := range podEnv {
		t.Setenv(k, v)
	}
	for name, text := range map[string]string{
		"kubernetes/configmap.yaml": baseConfig(t),
		"helm/opshub/values.yaml":   chartConfig(t),
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := app.ParseConfig([]byte(text), name)
			if err != nil {
				t.Fatalf("opshub rejects the shipped config:\n%v\n%s", err, text)
			}
			if cfg.Platform.Kind != config.PlatformKubernetes || cfg.Platform.NodeName != "node-a" {
				t.Errorf("platform = %+v, want kind kubernetes on node-a from NODE_NAME", cfg.Platform)
			}
			if cfg.DataDir != "/var/lib/opshub" {
				t.Errorf("dataDir = %q, want the mounted /var/lib/opshub", cfg.DataDir)
			}
		})
	}
}
