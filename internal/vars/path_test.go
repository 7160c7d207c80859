package vars

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLookPath: a program is found in the first absolute PATH entry that
// holds an executable file of its name; a name with a slash is kept.
func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	plain, exe := filepath.Join(dir, "plain"), filepath.Join(dir, "bin")
	for _, d := range []string{plain, exe} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(plain, "tool"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(exe, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := strings.Join([]string{"relative", plain, exe}, string(os.PathListSeparator))
	if got, err := LookPath("tool", path); err != nil || got != filepath.Join(exe, "tool") {
		t.Errorf("LookPath(tool) = %q, %v; want the executable one in %s", got, err, exe)
	}
	if got, err := LookPath("./tool", ""); err != nil || got != "./tool" {
		t.Errorf("LookPath(./tool) = %q, %v; want it kept", got, err)
	}
	if _, err := LookPath("missing", path); err == nil || err.Error() != `program "missing": not found in PATH` {
		t.Errorf("LookPath(missing): %v", err)
	}
}
