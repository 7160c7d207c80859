package procfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// errWalkLimit stops a walk that reached its entry budget.
var errWalkLimit = errors.New("walk limit reached")

// volumeUsage measures a volume: with statfs when the directory is the root
// of its own filesystem (then the whole filesystem is the volume's), else by
// walking it and adding up the space its files take on disk. The walk stops
// after limit entries; complete is false then, and used is a lower bound.
func volumeUsage(path string, limit int) (used, inodes uint64, complete bool, err error) {
	if own, err := isMountRoot(path); err != nil {
		return 0, 0, false, err
	} else if own {
		var fsst syscall.Statfs_t
		if err := syscall.Statfs(path, &fsst); err != nil {
			return 0, 0, false, &fs.PathError{Op: "statfs", Path: path, Err: err}
		}
		used = (fsst.Blocks - fsst.Bfree) * uint64(fsst.Bsize)
		return used, fsst.Files - fsst.Ffree, true, nil
	}
	n := 0
	err = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed mid-walk, or unreadable: skip it
		}
		n++
		if n > limit {
			return errWalkLimit
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		inodes++
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			used += uint64(st.Blocks) * 512 // st_blocks counts 512-byte units
		} else {
			used += uint64(info.Size())
		}
		return nil
	})
	if errors.Is(err, errWalkLimit) {
		return used, inodes, false, nil
	}
	return used, inodes, err == nil, err
}

// isMountRoot reports whether path is on another device than its parent.
func isMountRoot(path string) (bool, error) {
	var self, parent syscall.Stat_t
	if err := syscall.Stat(path, &self); err != nil {
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := syscall.Stat(filepath.Dir(path), &parent); err != nil {
		return false, &os.PathError{Op: "stat", Path: filepath.Dir(path), Err: err}
	}
	return self.Dev != parent.Dev, nil
}
