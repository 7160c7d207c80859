package sinktest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Registry is a running CNCF distribution registry (the reference OCI
// registry) on plain HTTP; the image tests push opshub's image to it.
type Registry struct {
	// Host is host:port, the registry part of an image reference.
	Host string
	proc *process
}

// StartRegistry starts a registry with its storage in a temporary directory;
// it stops when the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	bin := Binary(t, "registry", "run `make tools` to build it")
	dir := t.TempDir()
	r := &Registry{Host: FreeAddr(t)}
	config := "version: 0.1\n" +
		"log: {level: warn}\n" +
		"storage: {filesystem: {rootdirectory: " + filepath.Join(dir, "data") + "}}\n" +
		"http: {addr: " + r.Host + "}\n"
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r.proc = startProcess(t, "registry", exec.Command(bin, "serve", cfgFile))
	t.Cleanup(func() { r.proc.stop(t) })
	r.proc.waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}
