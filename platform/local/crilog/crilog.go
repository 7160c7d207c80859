// Package crilog writes a supervised process's stdout and stderr to disk in
// the CRI log format, laid out and rotated the way containerd and the kubelet
// do it on a Kubernetes node, so that opshub's collector reads one input
// format whether it runs on a node or on a laptop.
//
// What a node does, and this package does the same:
//
//   - containerd writes each line as "<RFC3339Nano time> <stream> <F|P> <content>\n";
//     a line longer than 16 KiB becomes several records tagged P, the last
//     one F; a "\r\n" line ending is dropped as a unit; output left without a
//     newline when the stream ends is written as a P record.
//   - The kubelet names a container's log <restart count>.log, keeps the
//     previous run's log for `kubectl logs --previous`, rotates a log that
//     has reached containerLogMaxSize to <name>.<YYYYMMDD-HHMMSS>, gzips every
//     rotated file but the newest one and keeps at most containerLogMaxFiles
//     files.
//
// Where it differs, and why:
//
//   - Rotation happens synchronously between two records instead of every
//     10 s, so no file grows past MaxBytes by more than one record and a
//     reader never sees a record cut in two.
//   - Times (in records and in rotated names) are written in UTC, which is
//     what a node normally runs in; containerd and the kubelet use the local
//     zone.
//   - Rotations can come faster than once a second, so a rotated name whose
//     second is taken moves to the next free one: names stay unique, in the
//     kubelet's layout, and sort in the order the files were written.
//
// The package must not do more than that: it does not parse records for the
// collector, merge partial lines, apply retention beyond the kubelet's rules,
// or decide what to do when the disk is full (it reports, and keeps writing).
package crilog

import (
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const (
	// DefaultMaxBytes is the kubelet's default containerLogMaxSize.
	DefaultMaxBytes = 10 << 20
	// DefaultMaxFiles is the kubelet's default containerLogMaxFiles.
	DefaultMaxFiles = 5

	dirMode  = 0o755 // containerd's mode for a container's log directory
	fileMode = 0o640 // containerd's mode for a container's log file
)

// Options tune a File. The zero value gives the kubelet's defaults.
type Options struct {
	// MaxBytes is the size at which the current file is rotated before the
	// next record is written: 0 means DefaultMaxBytes, a negative value
	// disables rotation (as a negative containerLogMaxSize does).
	MaxBytes int64
	// MaxFiles is the number of files kept per container, the current one
	// included: 0 means DefaultMaxFiles; like the kubelet it must otherwise
	// be at least 2.
	MaxFiles int
	// Now is the clock for record times and rotated names; default time.Now.
	Now func() time.Time
	// OnError receives the errors that do not stop logging: a failed
	// rotation or compression, or old log files that could not be removed.
	// Writes go on to the current file. It is called synchronously, with the
	// File locked, so it must not call the File's methods. Default: ignore.
	OnError func(error)
}

// File is the log of one run of one container. Its streams may be written
// from different goroutines at the same time.
type File struct {
	dir  string
	name string // <restart>.log
	path string
	opts Options

	mu      sync.Mutex
	file    *os.File
	size    int64  // bytes in file, not counting buf
	buf     []byte // whole records not yet written to file
	streams []*streamWriter
	closed  bool
	retryAt time.Time // no rotation attempt before this, after one failed

	// stamp is stampTime formatted for a record: records of one Write share
	// their time, and formatting it is a good part of a short record's cost.
	stamp     []byte
	stampTime time.Time

	zw *gzip.Writer // reused by compress
}

// Open creates dir if needed and opens (append) dir/<restart>.log, the log of
// the container's restart-th run, as the kubelet names them (0.log, 1.log, …).
// It also removes log files of runs older than restart-1: the kubelet keeps
// only the previous run's log, for `kubectl logs --previous`. A failure to
// remove them is reported to OnError and does not fail Open.
func Open(dir string, restart int, opts Options) (*File, error) {
	if restart < 0 {
		return nil, fmt.Errorf("crilog: open %s: negative restart count %d", dir, restart)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxFiles == 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if opts.MaxFiles < 2 {
		return nil, fmt.Errorf("crilog: open %s: MaxFiles is %d, must be at least 2 (the current file and one rotated)", dir, opts.MaxFiles)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnError == nil {
		opts.OnError = func(error) {}
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("crilog: open %s: %w", dir, err)
	}
	if err := removeOldRuns(dir, restart); err != nil {
		opts.OnError(err)
	}
	name := strconv.Itoa(restart) + ".log"
	path := filepath.Join(dir, name)
	file, size, err := openLog(path)
	if err != nil {
		return nil, fmt.Errorf("crilog: open %s: %w", path, err)
	}
	return &File{
		dir:  dir,
		name: name,
		path: path,
		opts: opts,
		file: file,
		size: size,
		buf:  make([]byte, 0, flushBytes+maxLineBytes+recordOverhead),
	}, nil
}

// openLog opens path for appending, creating it if needed, and returns its size.
func openLog(path string) (*os.File, int64, error) {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return nil, 0, err
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, err
	}
	return file, info.Size(), nil
}

// Path returns the path of the current file. It does not change when the
// file is rotated: the rotated file gets the new name.
func (f *File) Path() string { return f.path }

// Close writes what the streams still hold (as containerd does when a stream
// ends: a P record for output without a final newline) and closes the file.
// Later writes fail with an error wrapping os.ErrClosed. Close is idempotent.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	var errs []error
	now := f.opts.Now()
	for _, s := range f.streams {
		if err := s.finish(now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := f.flush(); err != nil {
		errs = append(errs, err)
	}
	if err := f.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("crilog: close %s: %w", f.path, err))
	}
	f.closed = true
	f.buf = nil
	return errors.Join(errs...)
}

// flush writes the buffered records to the file. It is called with f.mu held.
// Records that could not be written are dropped, so that a later flush does
// not write them twice after a short write.
func (f *File) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	n, err := f.file.Write(f.buf)
	f.size += int64(n)
	f.buf = f.buf[:0]
	if err != nil {
		return fmt.Errorf("crilog: write %s: %w", f.path, err)
	}
	return nil
}
