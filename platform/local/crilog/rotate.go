package crilog

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// rotatedLayout is the kubelet's time suffix of a rotated log's name.
	rotatedLayout = "20060102-150405"
	gzSuffix      = ".gz"
	tmpSuffix     = ".tmp"

	// retryDelay is how long rotation waits after a failed attempt: the
	// kubelet's check period, so a failing disk is not retried on every
	// record and OnError is not called for every record.
	retryDelay = 10 * time.Second
)

// rotationDue reports whether the next record should go to a fresh file: the
// kubelet rotates a log once its size has reached the limit.
func (f *File) rotationDue(now time.Time) bool {
	if f.opts.MaxBytes < 0 || f.size+int64(len(f.buf)) < f.opts.MaxBytes {
		return false
	}
	return !now.Before(f.retryAt)
}

// rotate does what the kubelet's container log manager does to a log that is
// too big, in its order: remove files left by an interrupted rotation, remove
// the oldest rotated files so that MaxFiles-2 remain, gzip the rotated files
// that are not yet, rename the current file to <name>.<time>, and open a new
// one. It is called with f.mu held and f.buf empty.
//
// If the current file cannot be renamed or a new one cannot be opened, writes
// go on to the current file and rotation is tried again after retryDelay.
// A failed compression does not stop the rotation: the file stays
// uncompressed and is tried again at the next rotation.
func (f *File) rotate(now time.Time) {
	if err := f.rotateFile(now); err != nil {
		f.opts.OnError(fmt.Errorf("crilog: rotate %s: %w", f.path, err))
	}
}

func (f *File) rotateFile(now time.Time) error {
	rotated, err := f.rotatedNames()
	if err != nil {
		f.retryAt = now.Add(retryDelay)
		return err
	}
	rotated, err = f.removeUnused(rotated)
	if err == nil {
		rotated, err = f.removeExcess(rotated)
	}
	if err != nil {
		f.retryAt = now.Add(retryDelay)
		return err
	}
	var compressErr error
	for _, name := range rotated {
		if !strings.HasSuffix(name, gzSuffix) {
			compressErr = errors.Join(compressErr, f.compress(filepath.Join(f.dir, name)))
		}
	}
	if err := f.renameAndReopen(rotatedName(f.name, now, rotated)); err != nil {
		f.retryAt = now.Add(retryDelay)
		return errors.Join(compressErr, err)
	}
	f.retryAt = time.Time{}
	return compressErr
}

// rotatedNames lists the current file's rotated files, <name>.*, sorted by
// name, which is oldest first. A plain directory listing is used rather than
// a glob, because the directory's path may hold glob metacharacters.
func (f *File) rotatedNames() ([]string, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	prefix := f.name + "."
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// removeUnused removes what an interrupted rotation leaves behind, as the
// kubelet does: temporary files, and uncompressed files whose compressed
// copy exists (the copy was synced before it got its name).
func (f *File) removeUnused(names []string) ([]string, error) {
	kept := names[:0:0]
	for _, name := range names {
		if strings.HasSuffix(name, tmpSuffix) || slices.Contains(names, name+gzSuffix) {
			if err := os.Remove(filepath.Join(f.dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		kept = append(kept, name)
	}
	return kept, nil
}

// removeExcess removes the oldest rotated files so that MaxFiles-2 remain:
// with the file about to be rotated and the new current file, that makes
// MaxFiles. Oldest go first, so a reader still on a newer one is not cut off.
func (f *File) removeExcess(names []string) ([]string, error) {
	excess := len(names) - (f.opts.MaxFiles - 2)
	for excess > 0 {
		if err := os.Remove(filepath.Join(f.dir, names[0])); err != nil {
			return nil, err
		}
		names = names[1:]
		excess--
	}
	return names, nil
}

// rotatedName returns the name the current file gets: <name>.<now as
// YYYYMMDD-HHMMSS>, the kubelet's. The kubelet rotates at most every 10 s and
// never meets a name in use; rotating at record boundaries can happen more
// than once a second, and the kubelet's rename would then replace a file. So
// the time is moved to one second after the newest rotated file's when it
// is not later already. Names keep the kubelet's layout, stay unique, and
// sort in the order the files were written; under a sustained rotation rate
// above one per second the names run ahead of the clock.
func rotatedName(name string, now time.Time, rotated []string) string {
	t := now.UTC().Truncate(time.Second)
	for _, r := range rotated {
		stamp, _, _ := strings.Cut(strings.TrimPrefix(r, name+"."), ".")
		if s, err := time.Parse(rotatedLayout, stamp); err == nil && !s.Before(t) {
			t = s.Add(time.Second)
		}
	}
	return name + "." + t.Format(rotatedLayout)
}

// renameAndReopen renames the current file to rotated and opens a new current
// file. If the new file cannot be opened, the rename is undone, so that
// writes go on to the current file under its own name; if even that fails,
// writes still go to the open file, now under the rotated name, and nothing
// is lost.
func (f *File) renameAndReopen(rotated string) error {
	rotatedPath := filepath.Join(f.dir, rotated)
	if err := os.Rename(f.path, rotatedPath); err != nil {
		return err
	}
	file, size, err := openLog(f.path)
	if err != nil {
		if undoErr := os.Rename(rotatedPath, f.path); undoErr != nil {
			return errors.Join(err, undoErr)
		}
		return err
	}
	old := f.file
	f.file, f.size = file, size
	return old.Close()
}

// compress gzips path into path.gz as the kubelet does, through path.tmp,
// which is synced before it gets its final name so that a crash leaves
// either the original or a whole compressed copy, then removes path. The
// gzip writer, about 1 MB, is kept for the next rotation.
func (f *File) compress(path string) (err error) {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	if f.zw == nil {
		f.zw = gzip.NewWriter(out)
	} else {
		f.zw.Reset(out)
	}
	zw := f.zw
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path+gzSuffix); err != nil {
		return err
	}
	return os.Remove(path)
}

// removeOldRuns removes the log files, current and rotated, of the runs
// before restart-1, as the kubelet does when it garbage-collects those dead
// containers: <n>.log and <n>.log.* for every n < restart-1. Other files in
// dir are left alone.
func removeOldRuns(dir string, restart int) error {
	if restart < 2 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("crilog: remove old logs in %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		run, ok := runOf(e.Name())
		if !ok || run >= restart-1 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("crilog: remove old log: %w", err))
		}
	}
	return errors.Join(errs...)
}

// runOf returns n for a file named <n>.log or <n>.log.<anything>.
func runOf(name string) (int, bool) {
	digits, rest, ok := strings.Cut(name, ".log")
	if !ok || (rest != "" && rest[0] != '.') || digits == "" {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}
