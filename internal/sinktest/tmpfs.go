package sinktest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of size (such as "1m") on a new directory until
// the test ends: a real filesystem that fills up (ENOSPC) or refuses
// writes (readOnly). Mounting needs root with CAP_SYS_ADMIN, which CI
// runs with; elsewhere without it the test is Missing.
func Tmpfs(t testing.TB, size string, readOnly bool) string {
	t.Helper()
	dir := t.TempDir()
	opts := "size=" + size
	if readOnly {
		opts += ",ro"
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		Missing(t, "mounting a tmpfs needs root with CAP_SYS_ADMIN: "+strings.TrimSpace(string(out)))
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
