package collector

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// discover watches the roots, pod and container directories (see
// dirWatcher) and lists them again on every change and every
// RescanInterval, the safety net for events inotify drops or never sends (a
// root created later, overflows). Where the watcher reports writes to files
// (not on Linux), a write queues its file at once.
func (c *Collector) discover(ctx context.Context) {
	watcher, err := newDirWatcher()
	if err != nil {
		c.log.Warn("inotify unavailable; relying on rescans and polling", "err", err)
	}
	var events <-chan dirEvent
	var errs <-chan error
	watched := map[string]bool{}
	if watcher != nil {
		defer watcher.Close()
		events, errs = watcher.Events(), watcher.Errors()
	}
	watch := func() {
		if watcher == nil {
			return
		}
		for _, dir := range c.dirs() {
			if !watched[dir] {
				if err := watcher.Add(dir); err == nil {
					watched[dir] = true
				}
			}
		}
	}
	watch()
	tick := time.NewTicker(c.opts.RescanInterval)
	defer tick.Stop()
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.scan(ctx)
			watch()
		case <-debounce:
			debounce = nil
			c.scan(ctx)
			watch()
		case <-c.rescan:
			// A scan saw a directory change under it, or could not open a
			// file: look again soon.
			if debounce == nil {
				debounce = time.After(c.opts.PollInterval)
			}
		case ev := <-events:
			if ev.write {
				if t := c.tailByPath(ev.path); t != nil {
					c.schedule(t)
					continue
				}
			}
			if ev.removed {
				delete(watched, ev.path)
			}
			if debounce == nil {
				debounce = time.After(20 * time.Millisecond)
			}
		case err := <-errs:
			c.log.Warn("inotify", "err", err)
			if debounce == nil {
				debounce = time.After(20 * time.Millisecond)
			}
		}
	}
}

// closeOnce closes done unless it is closed already, and reports whether
// it did (dirWatcher.Close is idempotent).
func closeOnce(done chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
		close(done)
		return true
	}
}

// dirEvent is a change the dirWatcher saw: path changed (created, removed
// or renamed; a write, with write set, where writes are reported); removed
// says a directory that may be watched is gone. An empty path means events
// were lost.
type dirEvent struct {
	path           string
	write, removed bool
}

func (c *Collector) tailByPath(path string) *tail {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath[path]
}

// dirs lists the directories to watch: the roots, pod directories and
// container directories.
func (c *Collector) dirs() []string {
	var out []string
	for _, root := range c.opts.Roots {
		out = append(out, root)
		pods, _ := os.ReadDir(root)
		for _, p := range pods {
			if !p.IsDir() {
				continue
			}
			pd := filepath.Join(root, p.Name())
			out = append(out, pd)
			conts, _ := os.ReadDir(pd)
			for _, ct := range conts {
				if ct.IsDir() {
					out = append(out, filepath.Join(pd, ct.Name()))
				}
			}
		}
	}
	return out
}

// testHookListed, when set, is called after a scan listed a container
// directory: tests rotate files at that moment.
var testHookListed func(dir string)

// listAttempts bounds how often a scan lists a container directory whose
// files change while it looks at them (a rotation at that moment).
const listAttempts = 3

// found is one log file seen by a scan. A file the collector does not hold
// yet is opened by the scan itself, so that its identity, its first bytes
// and what its tail reads are one file whatever is renamed meanwhile.
type found struct {
	path string
	src  Source
	kind fileKind
	id   fileID
	size int64
	mod  time.Time
	// file and prefix (its first bytes, decompressed for .gz) are set for
	// a file that is not open yet; err when it could not be opened or read.
	file   *os.File
	prefix []byte
	err    error
}

// fileMark is what a scan knows of a file it does not open again: one held
// open, or one skipped, with the name, size and time it had then. An inode
// is reused for a new file soon after the old one is deleted; a skipped
// inode whose name, size or time changed is a new file.
type fileMark struct {
	open bool
	path string
	size int64
	mod  time.Time
}

func (f found) mark() fileMark { return fileMark{path: f.path, size: f.size, mod: f.mod} }

// containerDir is what a scan saw in one container directory.
type containerDir struct {
	path  string
	files []found
	// stable is false when the directory kept changing while it was
	// listed: then its new files are left for the next scan.
	stable bool
}

// scan lists every log file under the roots, updates the names of open
// files, marks files that are gone, and opens new ones where their
// checkpoints say. It reports whether every directory with new files was
// seen in a stable state; if not, it asks for another scan soon.
//
// A container's files are opened oldest first, and a newer file is not
// opened while an older one could not be: its tail would read before the
// older file's rest. (Open tails of one container already wait for the
// older ones, see waitsForOlder.)
func (c *Collector) scan(ctx context.Context) bool {
	// One scan at a time: a scan that listed the directories earlier must
	// not apply its older picture after a newer one.
	c.scanMu.Lock()
	defer c.scanMu.Unlock()
	// Files held already are only looked at, not opened. Tails are added
	// only by scans, so this is a superset of the tails when it is applied.
	c.mu.Lock()
	known := make(map[fileID]fileMark, len(c.tails)+len(c.skipped))
	for id, m := range c.skipped {
		known[id] = m
	}
	for id := range c.tails {
		known[id] = fileMark{open: true}
	}
	c.mu.Unlock()

	var dirs []containerDir
	for _, root := range c.opts.Roots {
		containerDirs(root, func(e fs.DirEntry, _ Source) bool { return e.IsDir() }, func(dir string, s Source) {
			dirs = append(dirs, listContainer(dir, s, known))
		})
	}
	if ctx.Err() != nil {
		for _, d := range dirs {
			closeFound(d.files)
		}
		return false
	}
	now := c.opts.Now()
	stable := true
	seen := make(map[fileID]bool)
	unstableDir := map[string]bool{}
	c.mu.Lock()
	defer c.mu.Unlock()
	pending := map[string]bool{}
	for _, d := range dirs {
		if !d.stable {
			stable = false
			unstableDir[d.path] = true
			pending[d.path] = true
		}
		slices.SortStableFunc(d.files, func(a, b found) int { return compareFileOrder(a.path, b.path) })
		blocked := !d.stable
		for _, f := range d.files {
			seen[f.id] = true
			if f.file == nil && f.err == nil {
				if t, ok := c.tails[f.id]; ok {
					c.seenOpen(t, f, now)
				}
				continue
			}
			delete(c.skipped, f.id) // looked at again: decided again below
			if blocked {
				closeFound([]found{f})
				continue
			}
			if f.err != nil {
				if f.kind == kindGzip && !isTransient(f.err) {
					// A broken archive stays broken: it is history the
					// kubelet compressed, and newer files must not wait.
					c.log.Warn("unreadable compressed log file skipped", "path", f.path, "err", f.err)
					c.skipped[f.id] = f.mark()
					continue
				}
				c.warnOpen(f.path, f.err, now)
				blocked = true
				continue
			}
			if age := now.Sub(f.mod); f.kind == kindRotated && len(f.prefix) < fingerprintBytes && age >= 0 && age < rotatedGrace {
				// Perhaps a copy being written (copytruncate): its first
				// bytes would not match the file it copies yet, and it
				// would pass for a new file. Decide once it stopped growing.
				// (Modified after now: the clock stepped back; that says
				// nothing about the copy, which is not held for the step.)
				f.file.Close()
				blocked = true
				pending[d.path] = true
				continue
			}
			ck, ok, again := c.checkpointFor(f)
			if !ok {
				f.file.Close()
				if !again {
					c.skipped[f.id] = f.mark()
				}
				// again: a copy of a file still open, which is older
				// than anything newer here; decided once that is done.
				continue
			}
			if ck.Done && f.kind != kindCurrent {
				f.file.Close()
				c.skipped[f.id] = f.mark()
				continue
			}
			ck.Done = false
			t, err := c.openTail(f, ck)
			if err != nil {
				c.warnOpen(f.path, err, now)
				blocked = true
				continue
			}
			c.scheduleLocked(t)
		}
	}
	for id, t := range c.tails {
		if !seen[id] && !t.gone && !unstableDir[filepath.Dir(t.path)] {
			t.gone = true
			c.scheduleLocked(t)
		}
	}
	for id := range c.skipped {
		if !seen[id] {
			delete(c.skipped, id)
		}
	}
	// Checkpoints of files no longer on disk are kept (marked gone) so that
	// a compressed or copied version of them is known by its fingerprint.
	// A directory listed while it changed may have hidden a file.
	if stable {
		for _, ck := range c.ckpts {
			if ck.Ino != 0 && !seen[fileID{ck.Dev, ck.Ino}] {
				if _, open := c.tails[fileID{ck.Dev, ck.Ino}]; !open {
					ck.Gone, ck.Dev, ck.Ino = true, 0, 0
				}
			}
		}
		c.ckpts = pruneRetained(c.ckpts)
	}
	// A container with a file left for the next scan reads none of its
	// open files meanwhile: the file left may be older than all of them.
	c.pendingDirs = pending
	if len(pending) > 0 {
		select {
		case c.rescan <- struct{}{}:
		default:
		}
	}
	return stable
}

// warnOpen logs a file that could not be opened, at most once a minute per
// file; the container's newer files wait for it, and every scan tries
// again. Called with c.mu held.
func (c *Collector) warnOpen(path string, err error, now time.Time) {
	if last, ok := c.warned[path]; ok && now.Sub(last) < time.Minute {
		return
	}
	if len(c.warned) > 1000 {
		clear(c.warned)
	}
	c.warned[path] = now
	c.log.Warn("open log file; newer files of its container wait, trying again at every scan", "path", path, "err", err)
}

// seenOpen updates an open tail from what a scan saw. Called with c.mu held.
func (c *Collector) seenOpen(t *tail, f found, now time.Time) {
	if t.path != f.path {
		c.metrics.perFile.remove(t.path)
		if c.byPath[t.path] == t {
			delete(c.byPath, t.path)
		}
		c.byPath[f.path] = t
		t.path = f.path
		c.metrics.perFile.add(t.path, &t.behind)
	}
	t.ck.Path = f.path
	t.ck.Seen = now
	t.gone = false
	c.extendFingerprintLocked(t)
	if f.kind != kindCurrent && !t.rotated {
		t.rotated = true
		c.scheduleLocked(t)
	}
}

// listContainer looks at the log files of one container directory. Files
// not in known are opened. When there are such files, the directory is
// listed again afterwards, and the picture is stable only if both listings
// agree: a rotation in between (rename and create, compression, a copy)
// always changes the names, and would otherwise show the new file without
// the old one it replaced.
func listContainer(dir string, src Source, known map[fileID]fileMark) containerDir {
	d := containerDir{path: dir}
	for range listAttempts {
		names, err := logNames(dir)
		if err != nil {
			return containerDir{path: dir, stable: true} // gone with its pod
		}
		if testHookListed != nil {
			testHookListed(dir)
		}
		d.files = d.files[:0]
		opened, changed := false, false
		for _, name := range names {
			f, ok := examine(filepath.Join(dir, name), src, known)
			if !ok {
				changed = true // vanished or replaced since the listing
				continue
			}
			opened = opened || f.file != nil || f.err != nil
			d.files = append(d.files, f)
		}
		if !opened {
			d.stable = !changed
			return d
		}
		if again, err := logNames(dir); err == nil && !changed && slices.Equal(names, again) {
			d.stable = true
			return d
		}
		closeFound(d.files)
	}
	// Still changing: keep what it says about files held already.
	kept := d.files[:0]
	for _, f := range d.files {
		if f.file == nil && f.err == nil {
			kept = append(kept, f)
		}
	}
	d.files = kept
	return d
}

// logNames lists the names of the log files in a container directory,
// sorted.
func logNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	names := all[:0]
	for _, n := range all {
		if kind, _ := classify(n); kind != kindOther {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// examine looks at one file of a listing; it opens the file unless its
// identity is known. ok is false when the name no longer leads to a
// regular file, or leads to another file between the look and the open.
func examine(path string, src Source, known map[fileID]fileMark) (found, bool) {
	kind, _ := classify(filepath.Base(path))
	info, err := os.Stat(path)
	if os.IsNotExist(err) {
		return found{}, false
	}
	if err != nil {
		// Kept in the listing, so that newer files wait for it.
		return found{path: path, src: src, kind: kind, err: err}, true
	}
	if !info.Mode().IsRegular() {
		return found{}, true
	}
	f := found{path: path, src: src, kind: kind, id: idOf(info), size: info.Size(), mod: info.ModTime()}
	if m, ok := known[f.id]; ok && (m.open || m == f.mark()) {
		return f, true
	}
	fh, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return found{}, false
		}
		f.err = err
		return f, true
	}
	if fi, err := fh.Stat(); err != nil || idOf(fi) != f.id {
		fh.Close()
		return found{}, false
	}
	f.prefix, err = readPrefix(fh, kind == kindGzip)
	if err != nil {
		fh.Close()
		f.err = err
		return f, true
	}
	f.file = fh
	return f, true
}

// isTransient reports whether an error opening or reading a file came from
// the system (too many open files, an I/O error) and may go away, as
// opposed to content that does not decompress.
func isTransient(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

func closeFound(files []found) {
	for _, f := range files {
		if f.file != nil {
			f.file.Close()
		}
	}
}

// checkpointFor finds or creates the checkpoint of a file just seen: by
// inode with a matching fingerprint; else by fingerprint alone (a copy or a
// compressed version of a file read before); else a new one from the start.
// A compressed file no checkpoint knows is read only if it was written
// after this state directory was created; otherwise it is history from
// before the collector ran, and ok is false. Called with c.mu held.
func (c *Collector) checkpointFor(f found) (ck *checkpoint, ok, retry bool) {
	prefix := f.prefix
	matches := func(ck *checkpoint) bool {
		return ck.FPLen <= len(prefix) && hashPrefix(prefix[:ck.FPLen]) == ck.FPHash
	}
	for _, ck := range c.ckpts {
		if ck.Ino != f.id.ino || ck.Dev != f.id.dev || ck.Ino == 0 {
			continue
		}
		if !matches(ck) {
			// The inode now holds other bytes: the file was truncated (or
			// the inode reused). Keep the old checkpoint for its copy.
			ck.Dev, ck.Ino, ck.Gone = 0, 0, true
			continue
		}
		{
			ck.Path, ck.Gone = f.path, false
			// Nothing read yet, or all of the prefix: the fingerprint can
			// grow without taking in bytes written after a truncation.
			if len(prefix) > ck.FPLen && (ck.Offset == 0 || ck.Offset >= int64(len(prefix))) {
				ck.FPLen, ck.FPHash = len(prefix), hashPrefix(prefix)
			}
			return ck, true, false
		}
	}
	now := c.opts.Now()
	nc := checkpoint{Path: f.path, Dev: f.id.dev, Ino: f.id.ino, FPLen: len(prefix), FPHash: hashPrefix(prefix), Seen: now}
	var best *checkpoint
	for _, ck := range c.ckpts {
		// A compressed file is also known by the name it had before: a
		// file compressed before its fingerprint was long enough.
		known := ck.FPLen >= minFingerprint || f.kind == kindGzip && ck.Path == strings.TrimSuffix(f.path, ".gz")
		if known && matches(ck) && (best == nil || ck.Offset > best.Offset) {
			best = ck
		}
	}
	if best != nil {
		for _, t := range c.tails {
			if t.ck == best {
				// A copy of a file still open (the original of a
				// copytruncate before its truncation is seen, or a rotated
				// file being compressed): decide once the original is done.
				return nil, false, true
			}
		}
	}
	if best == nil {
		c.log.Debug("new log file", "path", f.path)
	} else {
		c.log.Debug("log file known by its first bytes", "path", f.path, "as", best.Path, "offset", best.Offset)
	}
	switch {
	case best != nil:
		nc.Offset = best.Offset
		nc.Done = best.Done && best.Gone
	case f.kind == kindGzip && f.mod.Before(c.state.Created):
		return nil, false, false
	}
	if f.kind == kindGzip {
		// A compressed file is identified by its fingerprint only.
		nc.Dev, nc.Ino = 0, 0
		nc.Gone = true
	}
	return c.newCheckpoint(nc), true, false
}
