// Command package builds opshub's OCI image and release archives; `make
// image`, `make image-push` and `make dist` run it (mk/dist.mk). It needs no
// container engine.
//
//	package image   --out DIR --binary linux/amd64=PATH… --version V --revision R --created UNIX [--ca-certs FILE] [--push REF]
//	package push    --layout DIR REF
//	package archive --out DIR --version V --created UNIX --bindir OS/ARCH=DIR… --file SRC[:NAME]…
//	package checksums DIR
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/opshub/opshub/internal/packaging"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: package image|push|archive|checksums [flags]")
		return 2
	}
	var err error
	switch args[0] {
	case "image":
		err = imageCmd(args[1:])
	case "push":
		err = pushCmd(args[1:])
	case "archive":
		err = archiveCmd(args[1:])
	case "checksums":
		if len(args) != 2 {
			err = usageError("usage: package checksums DIR")
		} else {
			err = checksumsCmd(args[1])
		}
	default:
		err = usageError(fmt.Sprintf("unknown command %q (want image, push, archive or checksums)", args[0]))
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "package:", err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "package:", err)
		return 1
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

// binaries collects repeated --binary os/arch=path flags.
type binaries map[packaging.Platform]string

func (b binaries) String() string { return fmt.Sprint(map[packaging.Platform]string(b)) }

func (b binaries) Set(v string) error {
	plat, path, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want os/arch=path, got %q", v)
	}
	p, err := packaging.ParsePlatform(plat)
	if err != nil {
		return err
	}
	b[p] = path
	return nil
}

type strList []string

func (s *strList) String() string     { return strings.Join(*s, ",") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }

func parseCreated(s string) (time.Time, error) {
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, usageError(fmt.Sprintf("--created: want seconds since the epoch (git log -1 --format=%%ct), got %q", s))
	}
	return time.Unix(sec, 0).UTC(), nil
}

func imageCmd(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	bins := binaries{}
	fs.Var(bins, "binary", "os/arch=path of a static opshub binary (repeat per platform)")
	out := fs.String("out", "dist/image", "directory of the OCI image layout to write")
	certs := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put in the image")
	version := fs.String("version", "dev", "version label")
	revision := fs.String("revision", "unknown", "revision label")
	created := fs.String("created", "0", "creation time, seconds since the epoch")
	push := fs.String("push", "", "also push the image to this reference (registry/repository:tag)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if len(bins) == 0 {
		return usageError("image: at least one --binary os/arch=path")
	}
	t, err := parseCreated(*created)
	if err != nil {
		return err
	}
	idx, err := packaging.BuildImage(packaging.ImageOptions{Binaries: bins, CACerts: *certs, Version: *version, Revision: *revision, Created: t})
	if err != nil {
		return err
	}
	if err := packaging.WriteLayout(*out, idx); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image %s (%d platforms) written to %s as an OCI layout\n", d, len(bins), *out)
	if *push != "" {
		if err := packaging.Push(*push, idx); err != nil {
			return err
		}
		fmt.Printf("pushed %s@%s\n", *push, d)
	}
	return nil
}

func pushCmd(args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	dir := fs.String("layout", "dist/image", "OCI image layout written by `package image`")
	insecure := fs.Bool("insecure", false, "allow a plain-HTTP registry")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() != 1 {
		return usageError("usage: package push [--layout DIR] [--insecure] REGISTRY/REPOSITORY:TAG")
	}
	idx, err := packaging.ReadLayout(*dir)
	if err != nil {
		return err
	}
	var opts []name.Option
	if *insecure {
		opts = append(opts, name.Insecure)
	}
	if err := packaging.Push(fs.Arg(0), idx, opts...); err != nil {
		return err
	}
	d, _ := idx.Digest()
	fmt.Printf("pushed %s@%s\n", fs.Arg(0), d)
	return nil
}

func archiveCmd(args []string) error {
	fs := flag.NewFlagSet("archive", flag.ContinueOnError)
	bins := binaries{}
	fs.Var(bins, "bindir", "os/arch=dir whose programs go under bin/ (repeat per platform)")
	var files strList
	fs.Var(&files, "file", "SRC[:NAME] to add beside the binary in every archive (repeat)")
	out := fs.String("out", "dist", "directory for the archives")
	version := fs.String("version", "dev", "version in the archive names")
	created := fs.String("created", "0", "file times, seconds since the epoch")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if len(bins) == 0 {
		return usageError("archive: at least one --bindir os/arch=dir")
	}
	t, err := parseCreated(*created)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for p, bindir := range bins {
		progs, err := os.ReadDir(bindir)
		if err != nil {
			return err
		}
		var list []packaging.ArchiveFile
		for _, e := range progs {
			if e.Type().IsRegular() {
				list = append(list, packaging.ArchiveFile{Src: filepath.Join(bindir, e.Name()), Name: "bin/" + e.Name(), Mode: 0o755})
			}
		}
		if len(list) == 0 {
			return fmt.Errorf("archive %s: no programs in %s", p, bindir)
		}
		for _, f := range files {
			src, name, ok := strings.Cut(f, ":")
			if !ok {
				name = filepath.Base(src)
			}
			list = append(list, packaging.ArchiveFile{Src: src, Name: name})
		}
		dst := filepath.Join(*out, packaging.ArchiveName(*version, p))
		if err := packaging.WriteArchive(dst, list, t); err != nil {
			return err
		}
		fmt.Println("wrote", dst)
	}
	return nil
}

// checksumsCmd sums every archive and chart package in dir.
func checksumsCmd(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".tar.gz") || strings.HasSuffix(e.Name(), ".tgz")) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("checksums: no .tar.gz or .tgz files in %s", dir)
	}
	if err := packaging.WriteChecksums(dir, names); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d files)\n", filepath.Join(dir, "SHA256SUMS"), len(names))
	return nil
}
