package collector

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// tail is one open log file. Fields marked "c.mu" are guarded by the
// collector's mutex; the others belong to the one worker that has it busy.
type tail struct {
	id   fileID
	seq  uint64 // order of opening, to tell files apart that share a name
	src  Source
	kind fileKind
	ck   *checkpoint // c.mu

	path     string // c.mu: its name now; changes when it is rotated
	rotated  bool   // c.mu: no longer the container's current file
	gone     bool   // c.mu: no name points to it any more
	queued   bool   // c.mu
	busy     bool   // c.mu
	again    bool   // c.mu
	inflight bool   // c.mu: a batch is with the sinks
	refused  error  // c.mu: the sinks refused the last batch; read it again
	closed   bool   // c.mu

	f          *os.File
	zr         *gzip.Reader
	lr         *lineReader
	dec        *decoder
	safeOff    int64 // offset after the last whole line taken
	lastGrowth time.Time
	lastSend   time.Time
	ref        model.Ref
	labels     model.Labels
	resolved   bool
	resolvedAt time.Time
	behind     atomic.Int64

	batch *batchBuilder // the batch being filled, set during readTail

	textPerLine int64     // in the last batch, to size the next one's text
	lastStat    time.Time // at the end of the file, see atEOF
	lastFull    bool      // the last batch filled up

	failures int       // batches refused in a row
	retryAt  time.Time // after a refused batch, no read before this
}

// openTail makes a tail of the file a scan opened, positioned at the
// checkpoint's offset; it takes f.file. It is called with c.mu held.
func (c *Collector) openTail(fd found, ck *checkpoint) (*tail, error) {
	f, path, kind, id, src := fd.file, fd.path, fd.kind, fd.id, fd.src
	c.opened++
	t := &tail{id: id, seq: c.opened, src: src, kind: kind, ck: ck, path: path, f: f, rotated: kind != kindCurrent, lastGrowth: c.opts.Now()}
	var r io.Reader = f
	if kind == kindGzip {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		t.zr = zr
		r = zr
		if _, err := io.CopyN(io.Discard, zr, ck.Offset); err != nil && err != io.EOF {
			f.Close()
			return nil, fmt.Errorf("open %s: skip to %d: %w", path, ck.Offset, err)
		}
	} else if _, err := f.Seek(ck.Offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	t.lr = newLineReader(r, nil, ck.Offset)
	t.safeOff = ck.Offset
	t.dec = newDecoder(c.opts.MaxLineBytes, c.opts.Now, t.emit)
	t.ref, t.labels, t.resolved = resolve(c.opts.Resolver, src)
	t.resolvedAt = c.opts.Now()
	c.metrics.perFile.add(path, &t.behind)
	c.metrics.openFiles.Inc()
	c.tails[id] = t
	c.byPath[path] = t
	dir := filepath.Dir(path)
	if c.byDir[dir] == nil {
		c.byDir[dir] = map[*tail]bool{}
	}
	c.byDir[dir][t] = true
	c.log.Debug("opened log file", "path", path, "offset", ck.Offset, "inode", id.ino, "fingerprint_bytes", ck.FPLen, "checkpoint", ck.ID)
	return t, nil
}

// close closes the file. It is called with c.mu held.
func (t *tail) close(c *Collector) {
	if t.closed {
		return
	}
	t.closed = true
	c.log.Debug("closed log file", "path", t.path, "offset", t.ck.Offset, "done", t.ck.Done)
	if t.zr != nil {
		t.zr.Close()
	}
	t.f.Close()
	c.metrics.perFile.remove(t.path)
	c.metrics.openFiles.Dec()
	delete(c.tails, t.id)
	if c.byPath[t.path] == t {
		delete(c.byPath, t.path)
	}
	dir := filepath.Dir(t.path)
	delete(c.byDir[dir], t)
	if len(c.byDir[dir]) == 0 {
		delete(c.byDir, dir)
	}
	// A newer file of the container may have waited for this one.
	for other := range c.byDir[dir] {
		c.scheduleLocked(other)
	}
}

// compareFileOrder orders two paths of one container directory by fileOrder.
func compareFileOrder(a, b string) int {
	ra, ca, na := fileOrder(a)
	rb, cb, nb := fileOrder(b)
	if ra != rb {
		return ra - rb
	}
	if ca != cb {
		return ca - cb
	}
	return strings.Compare(na, nb)
}

// fileOrder ranks the files of one container directory in the order their
// lines were written: by run, then rotated files by name (kubelet time
// stamps and copy numbers both sort that way), then the current file.
func fileOrder(path string) (run int, current int, name string) {
	name = filepath.Base(path)
	kind, run := classify(name)
	if kind == kindCurrent {
		current = 1
	}
	return run, current, strings.TrimSuffix(name, ".gz")
}

// waitsForOlder reports whether an older file of t's container is still
// open, or may be about to be (the last scan left one undecided): its lines
// come first, so t waits. Called with c.mu held.
func (c *Collector) waitsForOlder(t *tail) bool {
	if c.pendingDirs[filepath.Dir(t.path)] {
		return true
	}
	run, cur, name := fileOrder(t.path)
	for other := range c.byDir[filepath.Dir(t.path)] {
		if other == t {
			continue
		}
		r, c2, n := fileOrder(other.path)
		// Equal names happen while a scan has seen the new file under the
		// name and not yet the old one's new name: the one opened first
		// is the older.
		if r < run || r == run && (c2 < cur || c2 == cur && (n < name || n == name && other.seq < t.seq)) {
			return true
		}
	}
	return false
}

// newerRun reports whether the container has a run after t's: then t, the
// current file of a run that ended, is written no more. Called with c.mu held.
func (c *Collector) newerRun(t *tail) bool {
	run, _, _ := fileOrder(t.path)
	for other := range c.byDir[filepath.Dir(t.path)] {
		if r, _, _ := fileOrder(other.path); r > run {
			return true
		}
	}
	return false
}

// workerState is what one worker reuses from file to file.
type workerState struct {
	batch batchBuilder
}

// readTail reads t from where it stands into one batch and hands it to the
// output. At the end of the file it checks for truncation, rotation and
// unfinished partial lines.
func (c *Collector) readTail(ctx context.Context, w *workerState, t *tail) {
	c.mu.Lock()
	refused := t.refused
	t.refused = nil
	c.mu.Unlock()
	if refused != nil {
		c.refused(t, refused)
		c.mu.Lock()
		closed := t.closed
		c.mu.Unlock()
		if closed {
			return
		}
	}
	c.mu.Lock()
	wait := c.waitsForOlder(t)
	c.mu.Unlock()
	if wait {
		return
	}
	t.rebase(c.opts.Now())
	if c.opts.Now().Before(t.retryAt) {
		return
	}
	// Bytes waiting, in the read buffer and in the file after it: known
	// for a file that just sent a batch (it may have too little to send
	// another yet); otherwise guessed, a full batch after a full one and
	// little after an idle time (the batch grows if more is there). One
	// fstat less per idle file's poll.
	waiting := int64(4 << 10)
	if t.kind == kindGzip || t.lastFull {
		waiting = math.MaxInt64 // as much as a batch takes
	} else if c.opts.Now().Sub(t.lastSend) < minBatchInterval {
		waiting = int64(t.lr.buffered())
		if fi, err := t.f.Stat(); err == nil {
			waiting += max(0, fi.Size()-(t.lr.off+waiting))
		}
		if waiting < int64(c.opts.MaxBatchBytes/4) {
			return // too soon: the poll comes back for it
		}
	}
	// A copytruncated file is noticed after a read: by lines that came
	// with new first bytes (below), or by a size below the position (atEOF).
	c.extendFingerprint(t)
	if t.lr.buf == nil {
		t.lr.buf = *c.bufs.Get().(*[]byte)
	}
	b := &w.batch
	b.reset(batchHint(waiting, c.opts.MaxBatchBytes, c.opts.MaxBatchLines, t.textPerLine))
	t.batch = b
	startRead := t.lr.read
	var readErr error
	for b.lines() < c.opts.MaxBatchLines && b.size() < c.opts.MaxBatchBytes {
		line, more, ok, err := t.lr.next()
		if !ok {
			readErr = err
			break
		}
		t.dec.feed(line, more)
		if !t.dec.pending() {
			t.safeOff = t.lr.off
		}
	}
	if t.kind == kindCurrent && b.lines() > 0 && c.replaced(t) {
		// Truncated while it was read: what was read may be the new
		// content. The copy holds the old, from the checkpoint on.
		b.reset(0)
		c.truncated(t, c.opts.Now())
		t.batch = nil
		return
	}
	now := c.opts.Now()
	if n := t.lr.read - startRead; n > 0 {
		t.lastGrowth = now
		c.metrics.bytes.Add(float64(n))
	}
	atEOF := readErr == io.EOF
	if readErr != nil && readErr != io.EOF {
		c.log.Warn("reading log file", "path", c.pathOf(t), "err", readErr)
	}
	finish := false
	if atEOF && b.lines() == 0 {
		finish = c.atEOF(t, now)
	}
	c.countDecoder(t)
	if b.lines() > 0 {
		t.textPerLine = int64(b.size() / b.lines())
		t.lastFull = b.lines() >= c.opts.MaxBatchLines || b.size() >= c.opts.MaxBatchBytes
		c.send(ctx, t, b, t.lastFull)
	}
	if finish {
		c.mu.Lock()
		if !t.inflight {
			t.ck.Done = true
			t.close(c)
		}
		c.mu.Unlock()
		c.markDirty()
	}
	if t.lr.buffered() == 0 && t.lr.buf != nil {
		buf := t.lr.buf
		t.lr.buf = nil
		c.bufs.Put(&buf)
	}
	t.batch = nil
}

// atEOF handles a file read to its current end: a truncated file starts over
// (copytruncate), a partial line that waited long enough is passed on, and a
// rotated or deleted file that stopped growing is finished. It reports
// whether the file is finished.
func (c *Collector) atEOF(t *tail, now time.Time) bool {
	if t.kind == kindGzip {
		t.dec.flush()
		t.safeOff = t.lr.off
		return true
	}
	c.mu.Lock()
	ended := t.rotated || t.gone || c.newerRun(t)
	c.mu.Unlock()
	// The size tells a truncation (and the bytes behind, for the metric).
	// A file that is followed closely reaches its end at every write;
	// looking once a second is enough, since what matters is caught
	// anyway: lines read after a copytruncate come with new first bytes.
	if ended || now.Sub(t.lastStat) >= statInterval {
		t.lastStat = now
		pos := t.lr.off + int64(t.lr.buffered())
		if fi, err := t.f.Stat(); err == nil {
			t.behind.Store(max(0, fi.Size()-pos))
			if fi.Size() < pos {
				c.truncated(t, now)
				return false
			}
		}
	}
	if t.dec.pending() && now.Sub(t.lastGrowth) >= partialTimeout || ended && now.Sub(t.lastGrowth) >= rotatedGrace {
		t.dec.flush()
		if !t.dec.pending() && t.lr.buffered() == 0 {
			t.safeOff = t.lr.off
		}
	}
	return ended && now.Sub(t.lastGrowth) >= rotatedGrace
}

// minBatchInterval spaces the batches of a file that has little to read
// (less than a quarter batch): a file written a line at a time would
// otherwise send a batch (and cause a checkpoint write) per write. A file
// with a backlog is read at once.
const minBatchInterval = 200 * time.Millisecond

// statInterval is how often a file followed at its end is checked for a
// truncation.
const statInterval = time.Second

// replaced reports whether the file's first bytes are no longer the ones
// its fingerprint was taken from: it was truncated and written again, maybe
// past where this tail stands, so its size alone would not tell.
func (c *Collector) replaced(t *tail) bool {
	c.mu.Lock()
	n, want := t.ck.FPLen, t.ck.FPHash
	c.mu.Unlock()
	if n < minFingerprint {
		return false
	}
	var buf [fingerprintBytes]byte
	got, err := t.f.ReadAt(buf[:n], 0)
	if got < n {
		return err == io.EOF
	}
	return hashPrefix(buf[:n]) != want
}

// extendFingerprint completes the fingerprint of a file that was shorter
// than fingerprintBytes when it was opened, once it holds more, from the
// file itself (not its name, which may lead elsewhere by now). The new
// prefix must start with the old one: otherwise the file was replaced,
// which replaced() tells.
func (c *Collector) extendFingerprint(t *tail) {
	c.mu.Lock()
	c.extendFingerprintLocked(t)
	c.mu.Unlock()
}

// extendFingerprintLocked is extendFingerprint with c.mu held; scans call
// it too, so that a file waiting for older ones gets its fingerprint (a
// compressed copy of it must be recognised) before it is read.
func (c *Collector) extendFingerprintLocked(t *tail) {
	n, want := t.ck.FPLen, t.ck.FPHash
	if t.kind == kindGzip || t.closed || n >= fingerprintBytes {
		return
	}
	var buf [fingerprintBytes]byte
	got, _ := t.f.ReadAt(buf[:], 0)
	if got <= n || hashPrefix(buf[:n]) != want {
		return
	}
	t.ck.FPLen, t.ck.FPHash = got, hashPrefix(buf[:got])
}

// truncated starts a copytruncated file over. What was not read yet is in
// the copy, which inherits this file's checkpoint through its fingerprint:
// keep that checkpoint as a retained one before this file's is reset.
func (c *Collector) truncated(t *tail, now time.Time) {
	c.log.Info("log file truncated; reading it from the start", "path", c.pathOf(t))
	c.mu.Lock()
	old := *t.ck
	old.Dev, old.Ino, old.Gone, old.Seen = 0, 0, true, now
	c.newCheckpoint(old)
	t.ck.Offset, t.ck.FPLen, t.ck.FPHash, t.ck.Done = 0, 0, 0, false
	c.mu.Unlock()
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		c.log.Warn("seek in truncated log file", "path", c.pathOf(t), "err", err)
	}
	t.lr.reset(0)
	t.safeOff = 0
	t.dec = newDecoder(c.opts.MaxLineBytes, c.opts.Now, t.emit)
	c.markDirty()
	// The copy holds the lines before the truncation: open it now, so that
	// it is read before what is written to this file from here on.
	for range listAttempts {
		if c.scan(context.Background()) {
			break
		}
	}
}

func (c *Collector) pathOf(t *tail) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return t.path
}

// countDecoder moves the decoder's counts to the metrics.
func (c *Collector) countDecoder(t *tail) {
	s := &t.dec.stats
	if s.truncated > 0 {
		c.metrics.truncated.Add(float64(s.truncated))
	}
	if s.parseErrors > 0 {
		c.metrics.parseErrors.WithLabelValues(t.dec.format.String()).Add(float64(s.parseErrors))
	}
	*s = decoderStats{}
}

// emit adds a decoded line to the batch being filled.
func (t *tail) emit(l *line) {
	t.batch.add(l)
}

// send hands the batch to the output and arranges for its acknowledgement
// to advance the checkpoint to the end of its last whole line. full says
// the batch filled up (the file likely has more). The worker does not wait
// for the output: Send returns once the sinks delivered the batch or put it
// on disk, and meanwhile the worker reads other files (the file itself waits
// for the acknowledgement, and the in-flight budget bounds what is handed
// over). A refused batch is read again by the next readTail of its file.
func (c *Collector) send(ctx context.Context, t *tail, b *batchBuilder, full bool) {
	now := c.opts.Now()
	if !t.resolved && now.Sub(t.resolvedAt) > 5*time.Second {
		t.ref, t.labels, t.resolved = resolve(c.opts.Resolver, t.src)
		t.resolvedAt = now
	}
	records, invalid := b.build(t.ref, t.labels)
	size := int64(b.size() + len(records)*recordBytes)
	c.metrics.lines.Add(float64(len(records)))
	if invalid > 0 {
		c.metrics.invalidUTF8.Add(float64(invalid))
	}
	start := time.Now()
	if err := c.budget.acquire(ctx, size); err != nil {
		return // shutting down; the lines are read again next time
	}
	c.metrics.blocked.Add(time.Since(start).Seconds())
	c.metrics.inflight.Add(float64(size))
	c.mu.Lock()
	t.inflight = true
	c.mu.Unlock()
	off := t.safeOff
	t.lastSend = now
	c.sending.Add(1)
	go func() {
		defer c.sending.Done()
		var acked atomic.Bool
		err := c.opts.Output.Send(ctx, sinks.Batch{Records: records, Ack: func() {
			if acked.CompareAndSwap(false, true) {
				c.ackLater(ack{t: t, off: off, bytes: size, full: full})
			}
		}})
		if err == nil {
			return
		}
		c.budget.release(size)
		c.metrics.inflight.Sub(float64(size))
		c.mu.Lock()
		t.inflight = false
		if ctx.Err() == nil {
			t.refused = err
			c.scheduleLocked(t)
		}
		c.mu.Unlock()
	}()
}

// refused handles a batch the output did not take, before t is read again:
// it is read again from the checkpoint after a pause. The file stays open,
// so the container's newer files keep waiting for it and its lines keep
// their order.
func (c *Collector) refused(t *tail, err error) {
	t.failures++
	pause := min(maxRetryPause, time.Second<<min(t.failures-1, 5))
	t.retryAt = c.opts.Now().Add(pause)
	if t.failures == 1 || pause == maxRetryPause {
		c.log.Warn("sinks refused a batch; reading it again from the checkpoint", "path", c.pathOf(t), "retry_in", pause, "err", err)
	}
	if err := c.rewind(t); err != nil {
		c.log.Warn("rewind log file; opening it again at the next scan", "path", c.pathOf(t), "err", err)
		c.mu.Lock()
		t.close(c)
		c.mu.Unlock()
	}
}

// rebase moves the times t keeps that lie after now to now: the clock
// stepped back, and a file would otherwise wait for it to catch up (an
// hour for a step of an hour) before its next small batch, or before a
// rotated file is done and its container's next file is read. Each then
// counts from the step. A pause after a refused batch keeps its bound.
func (t *tail) rebase(now time.Time) {
	for _, p := range []*time.Time{&t.lastGrowth, &t.lastSend, &t.lastStat, &t.resolvedAt} {
		if p.After(now) {
			*p = now
		}
	}
	if t.retryAt.Sub(now) > maxRetryPause {
		t.retryAt = now.Add(maxRetryPause)
	}
}

// maxRetryPause bounds the pause before a refused batch is read again.
const maxRetryPause = 30 * time.Second

// rewind moves t back to its acknowledged offset, dropping what it read
// since.
func (c *Collector) rewind(t *tail) error {
	c.mu.Lock()
	off := t.ck.Offset
	c.mu.Unlock()
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if t.zr != nil {
		if err := t.zr.Reset(t.f); err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, t.zr, off); err != nil && err != io.EOF {
			return err
		}
	} else if _, err := t.f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	t.lr.reset(off)
	t.safeOff = off
	t.dec = newDecoder(c.opts.MaxLineBytes, c.opts.Now, t.emit)
	return nil
}
