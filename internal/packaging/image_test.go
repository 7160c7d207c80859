package packaging_test

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/opshub/opshub/internal/packaging"
	"github.com/opshub/opshub/internal/sinktest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds, once per test binary, the static opshub for linux/amd64
// as `make image` does (it runs here, from the pulled image's layer), and
// for linux/arm64 a small program of the standard library only: a second
// cross-build of all of opshub would cost minutes and test nothing more of
// the packaging (`make image` builds the real one for both).
func binaries(t *testing.T) map[packaging.Platform]string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "packaging-test-")
		if buildErr != nil {
			return
		}
		build := func(p packaging.Platform, out, pkg string) error {
			cmd := exec.Command("go", "build", "-trimpath",
				"-ldflags", "-s -w -X github.com/opshub/opshub/internal/buildinfo.Version=9.8.7"+
					" -X github.com/opshub/opshub/internal/buildinfo.Revision=abc123",
				"-o", out, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s %s: %v\n%s", p, pkg, err, b)
			}
			return nil
		}
		if buildErr = build(amd64, filepath.Join(binDir, "opshub-amd64"), "github.com/opshub/opshub/cmd/opshub"); buildErr != nil {
			return
		}
		buildErr = build(arm64, filepath.Join(binDir, "opshub-arm64"), "./testdata/hello")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return map[packaging.Platform]string{amd64: filepath.Join(binDir, "opshub-amd64"), arm64: filepath.Join(binDir, "opshub-arm64")}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	amd64 = packaging.Platform{OS: "linux", Arch: "amd64"}
	arm64 = packaging.Platform{OS: "linux", Arch: "arm64"}
)

func testImage(t *testing.T) (v1.ImageIndex, packaging.ImageOptions) {
	t.Helper()
	certs := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := packaging.ImageOptions{
		Binaries: binaries(t),
		CACerts:  certs, Version: "9.8.7", Revision: "abc123",
		Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	}
	idx, err := packaging.BuildImage(opts)
	if err != nil {
		t.Fatal(err)
	}
	return idx, opts
}

// The image goes to a real registry and comes back as what a cluster would
// pull: both platforms, each starting the opshub binary as the non-root user
// with the OCI labels, and the amd64 binary from its layer runs here.
func TestImagePushedAndPulledRunsOpshub(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	idx, _ := testImage(t)

	dir := filepath.Join(t.TempDir(), "image")
	if err := packaging.WriteLayout(dir, idx); err != nil {
		t.Fatal(err)
	}
	fromDisk, err := packaging.ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/opshub/opshub:9.8.7"
	if err := packaging.Push(ref, fromDisk, name.Insecure); err != nil {
		t.Fatal(err)
	}

	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(r)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	want, _ := idx.Digest()
	got, _ := pulled.Digest()
	if got != want {
		t.Errorf("pulled index %s, pushed %s", got, want)
	}
	m, err := pulled.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	sort.Strings(platforms)
	if strings.Join(platforms, " ") != "linux/amd64 linux/arm64" {
		t.Fatalf("platforms %v, want linux/amd64 and linux/arm64", platforms)
	}

	for _, d := range m.Manifests {
		img, err := pulled.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" {
			t.Errorf("%s: config says %s/%s", d.Platform.Architecture, cf.OS, cf.Architecture)
		}
		if strings.Join(cf.Config.Entrypoint, " ") != packaging.BinaryPath {
			t.Errorf("%s: entrypoint %v, want %s", d.Platform.Architecture, cf.Config.Entrypoint, packaging.BinaryPath)
		}
		if cf.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want the non-root 65532:65532", d.Platform.Architecture, cf.Config.User)
		}
		for _, k := range []string{"source", "version", "revision", "licenses"} {
			if cf.Config.Labels["org.opencontainers.image."+k] == "" {
				t.Errorf("%s: label org.opencontainers.image.%s missing: %v", d.Platform.Architecture, k, cf.Config.Labels)
			}
		}
		if v := cf.Config.Labels["org.opencontainers.image.version"]; v != "9.8.7" {
			t.Errorf("version label %q", v)
		}
		files := extract(t, img)
		if !strings.Contains(string(files["etc/passwd"].data), "opshub:x:65532:65532:") {
			t.Errorf("/etc/passwd has no opshub user:\n%s", files["etc/passwd"].data)
		}
		if len(files[packaging.CACertsPath[1:]].data) == 0 {
			t.Errorf("no CA certificates at %s", packaging.CACertsPath)
		}
		if h := files["tmp"]; h.mode&0o1777 != 0o1777 {
			t.Errorf("/tmp mode %o, want 1777", h.mode)
		}
		if h := files[packaging.DataDir[1:]]; h.uid != 65532 {
			t.Errorf("%s owned by %d, want 65532", packaging.DataDir, h.uid)
		}
		bin := files[packaging.BinaryPath[1:]]
		if bin.mode&0o111 == 0 {
			t.Errorf("binary mode %o is not executable", bin.mode)
		}
		if d.Platform.Architecture == "amd64" {
			exe := filepath.Join(t.TempDir(), "opshub")
			if err := os.WriteFile(exe, bin.data, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(exe, "version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "opshub 9.8.7 (revision abc123, go1.") {
				t.Errorf("opshub version from the image: %v\n%s", err, out)
			}
		}
	}
}

// Two builds of the same inputs are the same image: a digest names a commit.
func TestImageIsReproducible(t *testing.T) {
	a, opts := testImage(t)
	b, err := packaging.BuildImage(opts)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds: %s and %s", da, db)
	}
}

type entry struct {
	mode int64
	uid  int
	data []byte
}

func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = entry{mode: h.Mode, uid: h.Uid, data: data}
	}
}
