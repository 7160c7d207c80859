package collector

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"
)

// dirWatcher watches directories for entries created, removed and renamed
// through inotify, without IN_MODIFY: a node's log files are written
// thousands of times a second, and reading an event for every write cost a
// quarter of the collector's CPU while following 500 files. Growth is found
// by the poll, which reads every open file every PollInterval anyway.
type dirWatcher struct {
	f      *os.File
	fd     int
	events chan dirEvent
	errs   chan error
	done   chan struct{}

	mu   sync.Mutex
	dirs map[int32]string // watch descriptor → directory
}

const dirMask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
	syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR

func newDirWatcher() (*dirWatcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w := &dirWatcher{
		// A non-blocking descriptor goes through the runtime's poller, so
		// Close ends a Read that waits.
		f: os.NewFile(uintptr(fd), "inotify"), fd: fd,
		events: make(chan dirEvent), errs: make(chan error, 1), done: make(chan struct{}),
		dirs: map[int32]string{},
	}
	go w.read()
	return w, nil
}

func (w *dirWatcher) Events() <-chan dirEvent { return w.events }
func (w *dirWatcher) Errors() <-chan error    { return w.errs }

// Add watches dir (again, if it is watched already).
func (w *dirWatcher) Add(dir string) error {
	wd, err := syscall.InotifyAddWatch(w.fd, dir, dirMask)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	w.mu.Lock()
	w.dirs[int32(wd)] = dir
	w.mu.Unlock()
	return nil
}

// Close stops the watcher; it is idempotent.
func (w *dirWatcher) Close() error {
	if !closeOnce(w.done) {
		return nil
	}
	return w.f.Close()
}

func (w *dirWatcher) read() {
	var buf [64 << 10]byte
	for {
		n, err := w.f.Read(buf[:])
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				select {
				case w.errs <- err:
				default:
				}
			}
			return
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameStart := off + syscall.SizeofInotifyEvent
			off = nameStart + int(ev.Len)
			if off > n {
				break
			}
			if !w.send(w.event(ev, buf[nameStart:off])) {
				return
			}
		}
	}
}

// event turns a raw event into what discover needs: which path changed, and
// whether a directory it may watch is gone.
func (w *dirWatcher) event(ev *syscall.InotifyEvent, rawName []byte) dirEvent {
	if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
		return dirEvent{} // events were lost: discover lists everything again
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	dir := w.dirs[ev.Wd]
	path := dir
	for i, c := range rawName {
		if c == 0 {
			rawName = rawName[:i]
			break
		}
	}
	if len(rawName) > 0 {
		path = filepath.Join(dir, string(rawName))
	}
	switch {
	case ev.Mask&syscall.IN_IGNORED != 0:
		delete(w.dirs, ev.Wd)
		return dirEvent{path: dir, removed: true}
	case ev.Mask&syscall.IN_MOVE_SELF != 0:
		// The descriptor would follow the directory to its new name; the
		// next scan watches it where it is now.
		_, _ = syscall.InotifyRmWatch(w.fd, uint32(ev.Wd))
		return dirEvent{path: dir, removed: true}
	}
	return dirEvent{path: path, removed: ev.Mask&(syscall.IN_DELETE|syscall.IN_DELETE_SELF) != 0}
}

func (w *dirWatcher) send(ev dirEvent) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.done:
		return false
	}
}
