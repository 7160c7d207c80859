package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opshub/opshub/internal/sinktest"
)

// Helm returns the command that runs the helm `make tools` builds
// (mk/helm.mk) with args, its caches and settings in a temporary directory
// rather than the user's home. Without helm the test fails under CI and
// skips elsewhere, saying how to build it.
func Helm(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(bin, "helm")
	if _, err := os.Stat(path); err != nil {
		sinktest.Missing(t, fmt.Sprintf("needs helm, built by `make tools` (a few minutes): %v", err))
	}
	cmd := exec.Command(path, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	return cmd
}
