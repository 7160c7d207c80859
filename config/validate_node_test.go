package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCollectorNodeKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
platform:
  kind: kubernetes
  nodeName: node-1
  controllerIdentities: [system:serviceaccount:ops:opshub-controller, ci-reader]
collector:
  listen: 0.0.0.0:9000
  advertise: http://10.1.2.3:9000
  kubelet: {url: "https://10.1.2.3:10250", caFile: kubelet-ca.crt, tokenFile: token}
`), "opshub.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Collector
	if c.NodeListen() != "0.0.0.0:9000" || c.Advertise != "http://10.1.2.3:9000" || c.Kubelet.URL != "https://10.1.2.3:10250" {
		t.Errorf("collector %+v", c)
	}
	if !filepath.IsAbs(c.Kubelet.CAFile) || !filepath.IsAbs(c.Kubelet.TokenFile) {
		t.Errorf("kubelet files are not absolute: %+v", c.Kubelet)
	}
	if ids := cfg.Platform.ControllerIdentities; len(ids) != 2 || ids[1] != "ci-reader" {
		t.Errorf("identities %v", ids)
	}
	if d, _ := Parse([]byte("platform: {kind: kubernetes}\n"), "opshub.yaml", testPlugins); d.Collector.NodeListen() != ":7421" {
		t.Errorf("default listen %q", d.Collector.NodeListen())
	}

	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"bad values", `
platform: {kind: kubernetes, controllerIdentities: [""]}
collector:
  listen: "7421"
  advertise: 10.1.2.3:7421
  kubelet: {url: "ftp://node", caFile: ca.crt, insecureSkipVerify: true}
`, []string{"collector.listen", "collector.advertise", "collector.kubelet.url", "collector.kubelet.insecureSkipVerify", "platform.controllerIdentities[0]"}},
		{"kubernetes keys on one machine", `
platform: {kind: local, controllerIdentities: [x]}
collector: {advertise: "http://x:1", kubelet: {url: "https://x:10250"}}
`, []string{"collector.advertise", "collector.kubelet", "platform.controllerIdentities"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "opshub.yaml", testPlugins)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w+":") && !strings.Contains(err.Error(), w+" ") {
					t.Errorf("no error for %s in:\n%v", w, err)
				}
			}
		})
	}
}
