package local

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/opshub/opshub/platform"
)

// BackupVolume writes a gzip-compressed tar of a service's volume to w. The
// service's running instances are paused (SIGSTOP to each process group)
// while the files are read and resumed (SIGCONT) afterwards, so the archive
// is one consistent point in time, as `docker pause` gives.
func (r *Runtime) BackupVolume(ctx context.Context, project, service, volume string, w io.Writer) error {
	r.mu.Lock()
	s := r.serviceLocked(project, service)
	if s == nil {
		r.mu.Unlock()
		return fmt.Errorf("service %s/%s: %w", project, service, platform.ErrNotFound)
	}
	dir := ""
	for _, v := range s.w.Volumes {
		if v.Name == volume {
			dir = v.Path
		}
	}
	var groups []int
	for _, in := range s.instances {
		if in.pid > 0 {
			groups = append(groups, in.pid)
		}
	}
	r.mu.Unlock()
	if dir == "" {
		return fmt.Errorf("service %s/%s has no volume %q: %w", project, service, volume, platform.ErrNotFound)
	}
	for _, g := range groups {
		_ = syscall.Kill(-g, syscall.SIGSTOP)
	}
	defer func() {
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGCONT)
		}
	}()
	return archive(ctx, dir, w)
}

// archive writes dir's files, folders and links as a tar.gz, names
// relative to dir.
func archive(ctx context.Context, dir string, w io.Writer) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, pipes and devices are not data
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, hdr.Size)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
