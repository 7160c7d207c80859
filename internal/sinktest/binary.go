package sinktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Binary returns the path of a server built by `make tools` into .cache/bin,
// or found on PATH. When it is missing the test fails in CI and skips
// elsewhere, saying how to get it.
func Binary(t testing.TB, name, how string) string {
	t.Helper()
	if root, ok := repoRoot(); ok {
		p := filepath.Join(root, ".cache", "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, name+" is not installed; "+how)
	return ""
}

// Missing stops a test whose server or tool is not there: a failure in CI,
// a skip elsewhere. It is the one place that rule lives. When the file
// named by $OPSHUB_SKIPS is set (make test sets it), the skip is also
// appended there, so that make test can list at its end what did not run.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	if path := os.Getenv("OPSHUB_SKIPS"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), why)
			f.Close()
		}
	}
	t.Skip(why + " (the test runs in CI, where it must not skip)")
}

// repoRoot finds the checkout from the test's working directory.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "Makefile")); err == nil {
				return dir, true
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// FreeAddr returns a loopback host:port nobody listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// FreeLoopbackPort returns a loopback port nobody listens on right now:
// FreePort for a program without a testing.TB (the bench programs).
func FreeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
