package sinktest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// FillUp writes a file in dir until its filesystem is full (ENOSPC) and
// returns the file's path: removing it gives the space back.
func FillUp(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}
