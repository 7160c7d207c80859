//go:build !linux

package collector

import "github.com/fsnotify/fsnotify"

// dirWatcher watches directories through fsnotify where inotify is not
// available; a write to a file is reported too, and queues the file.
type dirWatcher struct {
	w      *fsnotify.Watcher
	events chan dirEvent
	done   chan struct{}
}

func newDirWatcher() (*dirWatcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &dirWatcher{w: fw, events: make(chan dirEvent), done: make(chan struct{})}
	go func() {
		for ev := range fw.Events {
			select {
			case w.events <- dirEvent{path: ev.Name, write: ev.Op == fsnotify.Write, removed: ev.Has(fsnotify.Remove)}:
			case <-w.done:
				return
			}
		}
	}()
	return w, nil
}

func (w *dirWatcher) Events() <-chan dirEvent { return w.events }
func (w *dirWatcher) Errors() <-chan error    { return w.w.Errors }
func (w *dirWatcher) Add(dir string) error    { return w.w.Add(dir) }

func (w *dirWatcher) Close() error {
	if !closeOnce(w.done) {
		return nil
	}
	return w.w.Close()
}
