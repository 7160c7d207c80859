package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCollectorSaysWhatItNeeds(t *testing.T) {
	// The downward API's variables of the DaemonSet are not set here.
	for _, v := range []string{"POD_IP", "NODE_IP", "POD_NAMESPACE", "POD_NAME"} {
		t.Setenv(v, "")
	}
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"a single machine's config", "platform: {kind: local}\n",
			[]string{"needs platform.kind kubernetes", "opshub run"}},
		{"no node, no pod IP, no node IP", "platform: {kind: kubernetes}\n",
			[]string{"platform.nodeName is empty", "NODE_NAME", "$POD_IP", "$NODE_IP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "opshub.yaml")
			if err := os.WriteFile(path, []byte("dataDir: "+filepath.Dir(path)+"/data\n"+tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runCLI(t, "collector", "-c", path)
			if code != exitFailure {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
	t.Run("help names the node API and the Lease", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "collector", "--help")
		if code != exitOK || !strings.Contains(stdout, "/api/v1/node/samples") || !strings.Contains(stdout, "opshub-collector-<node>") {
			t.Errorf("exit %d, help:\n%s", code, stdout)
		}
	})
}
