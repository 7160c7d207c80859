package sinktest

import (
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// MinIO is a running MinIO server: an S3 API at Endpoint, with root
// credentials AccessKey and SecretKey.
type MinIO struct {
	Endpoint  string // http://127.0.0.1:port
	AccessKey string
	SecretKey string
}

// StartMinIO starts MinIO on a fresh directory; it stops when the test ends.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := Binary(t, "minio", "run `make tools` to build it")
	m := &MinIO{AccessKey: "opshub-test", SecretKey: "opshub-test-secret"}
	addr := FreeAddr(t)
	m.Endpoint = "http://" + addr
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", FreeAddr(t), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+t.TempDir())
	p := startProcess(t, "minio", cmd)
	t.Cleanup(func() { p.stop(t) })
	// The health endpoint answers before the object layer is up, which
	// then answers 503 "server not initialized"; an anonymous listing
	// refused with 403 means it is up.
	p.waitFor(t, 60*time.Second, func() bool {
		resp, err := http.Get(m.Endpoint + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusForbidden
	})
	return m
}
