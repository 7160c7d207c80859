package packaging_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/packaging"
)

func TestArchiveHoldsTheFilesUnderOneDirectoryAndIsReproducible(t *testing.T) {
	src := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := []packaging.ArchiveFile{
		{Src: write("opshub", "#!/bin/sh\n"), Name: "bin/opshub", Mode: 0o755},
		{Src: write("README.md", "# opshub\n"), Name: "README.md"},
		{Src: write("local.yaml", "workloads: []\n"), Name: "examples/local.yaml"},
	}
	out := t.TempDir()
	name := packaging.ArchiveName("1.2.3", packaging.Platform{OS: "darwin", Arch: "arm64"})
	if name != "opshub_1.2.3_darwin_arm64.tar.gz" {
		t.Fatalf("archive name %s", name)
	}
	mtime := time.Unix(1700000000, 0)
	first := filepath.Join(out, name)
	if err := packaging.WriteArchive(first, files, mtime); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	if st, err := os.Stat(first); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("archive mode %v, want -rw-r--r--", st.Mode())
	}
	if err := packaging.WriteArchive(first, files, mtime); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(first)
	if !bytes.Equal(a, b) {
		t.Error("two archives of the same files differ")
	}

	gz, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		if h.Name == "opshub_1.2.3_darwin_arm64/bin/opshub" && h.Mode != 0o755 {
			t.Errorf("binary mode %o", h.Mode)
		}
	}
	want := "opshub_1.2.3_darwin_arm64/ opshub_1.2.3_darwin_arm64/README.md opshub_1.2.3_darwin_arm64/bin/ " +
		"opshub_1.2.3_darwin_arm64/bin/opshub opshub_1.2.3_darwin_arm64/examples/ opshub_1.2.3_darwin_arm64/examples/local.yaml"
	if strings.Join(got, " ") != want {
		t.Errorf("entries\n %s\nwant\n %s", strings.Join(got, " "), want)
	}

	if err := packaging.WriteChecksums(out, []string{name}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), name+": OK") {
		t.Errorf("sha256sum -c: %v\n%s", err, b)
	}
}
