package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataDirLock is the exclusive flock that keeps a second opshub off a data
// directory. The kernel drops it when the process dies, however it dies, so
// it never needs cleaning up. The file holds the holder's pid for the error
// message of the one that is refused.
type dataDirLock struct{ file *os.File }

// lockDataDir takes the lock on <stateDir>/lock without waiting.
func lockDataDir(stateDir string) (*dataDirLock, error) {
	path := filepath.Join(stateDir, "lock")
	// os.OpenFile sets O_CLOEXEC: supervised processes never inherit the lock.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "unknown pid"
			if data, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
					holder = "pid " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("data dir %s is in use by another opshub (%s holds %s)", filepath.Dir(stateDir), holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{file: f}, nil
}

// release drops the lock. The file stays: removing it would let a waiting
// opshub lock an unlinked inode while a third one creates a new file.
func (l *dataDirLock) release() error {
	if err := l.file.Truncate(0); err != nil {
		l.file.Close()
		return fmt.Errorf("release lock: %w", err)
	}
	return l.file.Close()
}
