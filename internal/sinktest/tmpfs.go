package sinktest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of size (such as "1m") on a new directory until
// the test ends: a real filesystem that fills up (ENOSPC) or refuses
// writes (readOnly). Mounting needs root with CAP_SYS_ADMIN; a machine
// that withholds it skips the test, in CI too, and make test lists it.
func Tmpfs(t testing.TB, size string, readOnly bool) string {
	t.Helper()
	dir := t.TempDir()
	opts := "size=" + size
	if readOnly {
		opts += ",ro"
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		msg := strings.TrimSpace(string(out))
		if !IsRoot() || strings.Contains(msg, "permission denied") || strings.Contains(msg, "not permitted") {
			// A container without CAP_SYS_ADMIN cannot mount, and nothing a
			// CI script installs changes that: skipped and listed, in CI too.
			skip(t, "mounting a tmpfs needs root with CAP_SYS_ADMIN, which this machine withholds: "+msg)
		}
		Missing(t, "mounting a tmpfs: "+msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// IsRoot reports whether the test runs as root, for whom permission bits
// do not make a directory unwritable.
func IsRoot() bool { return os.Geteuid() == 0 }
