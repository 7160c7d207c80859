package packaging

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image holds and how it starts. The Dockerfile at the repository's
// root builds the same files with a container engine; dockerfile_test.go
// holds the two equal.
const (
	// BinaryPath is where the opshub binary lives in the image.
	BinaryPath = "/usr/local/bin/opshub"
	// CACertsPath is the CA bundle Go's crypto/x509 reads on Linux.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// User is the non-root user the controller runs as. The collector's pods
	// override it with runAsUser 0 to read the node's log files.
	User = "65532:65532"
	// UserName is User's name in /etc/passwd.
	UserName = "opshub"
	// DataDir is the state directory of the chart's config, owned by User.
	DataDir = "/var/lib/opshub"
	// DefaultRepository is the image name the Helm chart and the kustomize
	// base run, and the name `make image` gives the image.
	DefaultRepository = "ghcr.io/opshub/opshub"
	// SourceURL is the org.opencontainers.image.source label.
	SourceURL = "https://github.com/opshub/opshub"
	// License is the SPDX identifier of the LICENSE file.
	License = "Apache-2.0"
)

// Passwd and Group are the image's /etc/passwd and /etc/group: root for the
// collector, opshub for the controller, nobody for completeness.
const (
	Passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"opshub:x:65532:65532:opshub:/var/lib/opshub:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	Group = "root:x:0:\nopshub:x:65532:\nnobody:x:65534:\n"
)

// Platform is an os/arch pair the image is built for.
type Platform struct {
	OS   string
	Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatform reads "linux/amd64".
func ParsePlatform(s string) (Platform, error) {
	if os, arch, ok := strings.Cut(s, "/"); ok && os != "" && arch != "" && !strings.Contains(arch, "/") {
		return Platform{OS: os, Arch: arch}, nil
	}
	return Platform{}, fmt.Errorf("platform %q: want os/arch, e.g. linux/amd64", s)
}

// ImageOptions describe one multi-platform image.
type ImageOptions struct {
	// Binaries maps each platform to the path of its static opshub binary.
	Binaries map[Platform]string
	// CACerts is the CA bundle to copy into the image (the build machine's).
	CACerts  string
	Version  string
	Revision string
	// Created stamps the image config and every file; the commit's time
	// keeps builds of one commit byte for byte the same.
	Created time.Time
}

// Labels returns the OCI annotations the image config carries.
func Labels(version, revision string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "opshub",
		"org.opencontainers.image.description": "Observability, alerting and release hub for containerised services",
		"org.opencontainers.image.source":      SourceURL,
		"org.opencontainers.image.url":         SourceURL,
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    revision,
		"org.opencontainers.image.licenses":    License,
	}
}

// BuildImage assembles an OCI image index with one image per platform, each
// on an empty base: a layer with the system files the binary needs (users,
// CA certificates, a writable /tmp and data directory) and a layer with the
// binary. Time-zone data is compiled into the binary (time/tzdata).
func BuildImage(opts ImageOptions) (v1.ImageIndex, error) {
	if len(opts.Binaries) == 0 {
		return nil, fmt.Errorf("image: no binaries given")
	}
	certs, err := os.ReadFile(opts.CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates: %w", err)
	}
	base, err := layer(opts.Created, []file{
		{name: "etc/", mode: 0o755 | dir},
		{name: "etc/passwd", mode: 0o644, data: []byte(Passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(Group)},
		{name: "etc/ssl/", mode: 0o755 | dir},
		{name: "etc/ssl/certs/", mode: 0o755 | dir},
		{name: CACertsPath[1:], mode: 0o644, data: certs},
		{name: "tmp/", mode: 0o1777 | dir},
		{name: "var/", mode: 0o755 | dir},
		{name: "var/lib/", mode: 0o755 | dir},
		{name: DataDir[1:] + "/", mode: 0o750 | dir, uid: 65532, gid: 65532},
	})
	if err != nil {
		return nil, err
	}
	platforms := make([]Platform, 0, len(opts.Binaries))
	for p := range opts.Binaries {
		platforms = append(platforms, p)
	}
	sort.Slice(platforms, func(i, j int) bool { return platforms[i].String() < platforms[j].String() })

	var index v1.ImageIndex = empty.Index
	index = mutate.IndexMediaType(index, types.OCIImageIndex)
	for _, p := range platforms {
		bin, err := os.ReadFile(opts.Binaries[p])
		if err != nil {
			return nil, fmt.Errorf("image %s: binary: %w", p, err)
		}
		binLayer, err := layer(opts.Created, []file{
			{name: "usr/", mode: 0o755 | dir},
			{name: "usr/local/", mode: 0o755 | dir},
			{name: "usr/local/bin/", mode: 0o755 | dir},
			{name: BinaryPath[1:], mode: 0o755, data: bin},
		})
		if err != nil {
			return nil, err
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.AppendLayers(img, base, binLayer)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", p, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Arch
		cf.Created = v1.Time{Time: opts.Created}
		cf.Config = v1.Config{
			Entrypoint: []string{BinaryPath},
			User:       User,
			WorkingDir: "/",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + CACertsPath},
			Labels:     Labels(opts.Version, opts.Revision),
		}
		cf.History = []v1.History{
			{Created: v1.Time{Time: opts.Created}, CreatedBy: "opshub packaging: users, CA certificates, /tmp, " + DataDir},
			{Created: v1.Time{Time: opts.Created}, CreatedBy: "opshub packaging: " + BinaryPath},
		}
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			return nil, fmt.Errorf("image %s: config: %w", p, err)
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	return index, nil
}

const dir = 1 << 31

type file struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte
}

// layer writes files into an uncompressed tar with fixed times and owners, so
// that the layer's digest depends only on the contents.
func layer(mtime time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode &^ dir, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if f.mode&dir != 0 {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
