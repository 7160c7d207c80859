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
	command := func(addr string) *exec.Cmd {
		cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", FreeAddr(t), "--quiet")
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+t.TempDir())
		return cmd
	}
	// The health endpoint answers before the object layer is up, which
	// then answers 503 "server not initialized"; an anonymous listing
	// refused with 403 means it is up.
	_, addr := startListening(t, "minio", "", 60*time.Second, command, func(_ *process, addr string) bool {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusForbidden
	})
	m.Endpoint = "http://" + addr
	return m
}
