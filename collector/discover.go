package collector

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// discover watches the roots, pod and container directories with inotify
// and lists them again on every change and every RescanInterval, the safety
// net for events inotify drops or never sends (a root created later,
// overflows). Writes to a file queue that file at once.
func (c *Collector) discover(ctx context.Context) {
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		c.log.Warn("inotify unavailable; relying on rescans and polling", "err", err)
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	watched := map[string]bool{}
	if watcher != nil {
		defer watcher.Close()
		events, errs = watcher.Events, watcher.Errors
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
		case ev := <-events:
			if ev.Has(fsnotify.Write) {
				if t := c.tailByPath(ev.Name); t != nil {
					c.schedule(t)
					continue
				}
			}
			if ev.Has(fsnotify.Remove) {
				delete(watched, ev.Name)
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

func (c *Collector) tailByPath(path string) *tail {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tails {
		if t.path == path {
			return t
		}
	}
	return nil
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

// found is one log file seen by a scan.
type found struct {
	path string
	src  Source
	kind fileKind
	id   fileID
	info os.FileInfo
}

// scan lists every log file under the roots, updates the names of open
// files, marks files that are gone, and opens new ones where their
// checkpoints say.
func (c *Collector) scan(ctx context.Context) {
	// One scan at a time: a scan that listed the directories earlier must
	// not apply its older picture after a newer one.
	c.scanMu.Lock()
	defer c.scanMu.Unlock()
	var files []found
	for _, root := range c.opts.Roots {
		pods, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, p := range pods {
			src, ok := parsePodDir(p.Name())
			if !ok || !p.IsDir() {
				continue
			}
			pd := filepath.Join(root, p.Name())
			conts, _ := os.ReadDir(pd)
			for _, ct := range conts {
				if !ct.IsDir() {
					continue
				}
				s := src
				s.Container = ct.Name()
				cd := filepath.Join(pd, ct.Name())
				entries, _ := os.ReadDir(cd)
				for _, e := range entries {
					kind, _ := classify(e.Name())
					if kind == kindOther {
						continue
					}
					path := filepath.Join(cd, e.Name())
					info, err := os.Stat(path)
					if err != nil || !info.Mode().IsRegular() {
						continue
					}
					files = append(files, found{path: path, src: s, kind: kind, id: idOf(info), info: info})
				}
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	now := c.opts.Now()
	seen := make(map[fileID]bool, len(files))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		seen[f.id] = true
		if t, ok := c.tails[f.id]; ok {
			if t.path != f.path {
				c.metrics.perFile.UnregisterMetric(t.metricName)
				t.path, t.metricName = f.path, behindName(f.path)
				tt := t
				c.metrics.perFile.GetOrCreateGauge(t.metricName, func() float64 { return float64(tt.behind.Load()) })
			}
			t.ck.Path = f.path
			t.ck.Seen = now
			t.gone = false
			if f.kind != kindCurrent && !t.rotated {
				t.rotated = true
				c.scheduleLocked(t)
			}
			c.refreshFingerprint(t, f)
			continue
		}
		if c.skipped[f.id] {
			continue
		}
		ck, ok, retry := c.checkpointFor(f)
		if !ok {
			if !retry {
				c.skipped[f.id] = true
			}
			continue
		}
		if ck.Done && f.kind != kindCurrent {
			c.skipped[f.id] = true
			continue
		}
		ck.Done = false
		t, err := c.openTail(f.path, f.src, f.kind, f.id, ck)
		if err != nil {
			c.log.Warn("open log file", "path", f.path, "err", err)
			continue
		}
		c.scheduleLocked(t)
	}
	for id, t := range c.tails {
		if !seen[id] && !t.gone {
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
	for _, ck := range c.ckpts {
		if ck.Ino != 0 && !seen[fileID{ck.Dev, ck.Ino}] {
			if _, open := c.tails[fileID{ck.Dev, ck.Ino}]; !open {
				ck.Gone, ck.Dev, ck.Ino = true, 0, 0
			}
		}
	}
	c.ckpts = pruneRetained(c.ckpts)
}

// refreshFingerprint completes the fingerprint of a file that was shorter
// than fingerprintBytes when it was opened. Called with c.mu held.
func (c *Collector) refreshFingerprint(t *tail, f found) {
	if t.kind != kindCurrent || t.ck.FPLen >= fingerprintBytes || f.info.Size() <= int64(t.ck.FPLen) {
		return
	}
	prefix, err := readPrefix(f.path, false)
	if err != nil {
		return
	}
	t.ck.FPLen, t.ck.FPHash = len(prefix), hashPrefix(prefix)
}

// checkpointFor finds or creates the checkpoint of a file just seen: by
// inode with a matching fingerprint; else by fingerprint alone (a copy or a
// compressed version of a file read before); else a new one from the start.
// A compressed file no checkpoint knows is read only if it was written
// after this state directory was created; otherwise it is history from
// before the collector ran, and ok is false. Called with c.mu held.
func (c *Collector) checkpointFor(f found) (ck *checkpoint, ok, retry bool) {
	prefix, err := readPrefix(f.path, f.kind == kindGzip)
	if err != nil {
		return nil, false, true
	}
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
			if len(prefix) > ck.FPLen && ck.Offset >= int64(len(prefix)) {
				ck.FPLen, ck.FPHash = len(prefix), hashPrefix(prefix)
			}
			return ck, true, false
		}
	}
	now := c.opts.Now()
	nc := &checkpoint{Path: f.path, Dev: f.id.dev, Ino: f.id.ino, FPLen: len(prefix), FPHash: hashPrefix(prefix), Seen: now}
	var best *checkpoint
	for _, ck := range c.ckpts {
		if ck.FPLen >= minFingerprint && matches(ck) && (best == nil || ck.Offset > best.Offset) {
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
	switch {
	case best != nil:
		nc.Offset = best.Offset
		nc.Done = best.Done && best.Gone
	case f.kind == kindGzip && f.info.ModTime().Before(c.state.Created):
		return nil, false, false
	}
	if f.kind == kindGzip {
		// A compressed file is identified by its fingerprint only.
		nc.Dev, nc.Ino = 0, 0
		nc.Gone = true
	}
	c.ckpts = append(c.ckpts, nc)
	return nc, true, false
}
