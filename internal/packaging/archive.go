package packaging

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ArchiveFile is one file of a release archive: Src on disk, Name inside
// the archive's top directory.
type ArchiveFile struct {
	Src  string
	Name string
	Mode int64
}

// ArchiveName is the file name of the release archive of one platform, as
// install scripts expect it: opshub_1.2.3_linux_amd64.tar.gz.
func ArchiveName(version string, p Platform) string {
	return fmt.Sprintf("opshub_%s_%s_%s.tar.gz", version, p.OS, p.Arch)
}

// WriteArchive writes a gzipped tar at dst whose entries sit under one top
// directory named like the archive without its extension. Entries are in a
// fixed order with fixed owners and times, so the same inputs give the same
// bytes.
func WriteArchive(dst string, files []ArchiveFile, mtime time.Time) (err error) {
	top := strings.TrimSuffix(filepath.Base(dst), ".tar.gz")
	files = append([]ArchiveFile(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })

	tmp, err := os.CreateTemp(filepath.Dir(dst), ".archive-*")
	if err != nil {
		return fmt.Errorf("archive %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	gz, err := gzip.NewWriterLevel(tmp, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	writeDir := func(name string) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
	}
	if err := writeDir(top); err != nil {
		return fmt.Errorf("archive %s: %w", dst, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return fmt.Errorf("archive %s: %w", dst, err)
		}
		// Parent directories of nested entries (examples/local.yaml).
		for d := filepath.Dir(f.Name); d != "."; d = filepath.Dir(d) {
			if err := writeDir(top + "/" + filepath.ToSlash(d)); err != nil {
				return fmt.Errorf("archive %s: %w", dst, err)
			}
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + filepath.ToSlash(f.Name), Mode: mode,
			Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("archive %s: %s: %w", dst, f.Name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("archive %s: %s: %w", dst, f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dst, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dst, err)
	}
	// CreateTemp made it 0600; an archive is for everyone to read.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("archive %s: %w", dst, err)
	}
	return os.Rename(tmp.Name(), dst)
}

// WriteChecksums writes SHA256SUMS in dir for the named files of dir, in
// the format `sha256sum -c SHA256SUMS` checks.
func WriteChecksums(dir string, names []string) error {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("checksums: %s: %w", n, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), n)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
