package sinks

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// The buffer is a sink's durable first-in first-out queue of records, kept
// under the sink's directory:
//
//	<dir>/<offset>.seg   segment files, named by the byte offset of their
//	                     first record in the sink's stream, appended to in turn
//	<dir>/position       the offset up to which records were delivered
//
// A segment holds frames: a 4-byte little-endian payload length, a 4-byte
// CRC-32C of the payload, then the payload: 8 bytes of the time the record
// was buffered (Unix nanoseconds) and the record in the compact form of
// record.go. A frame torn by a
// crash fails its checksum; opening the buffer cuts the last segment back to
// its last whole frame, so a torn record is neither delivered nor
// delivered twice (it was never acknowledged to the collector, which sends it
// again).
//
// Fsync policy: Append writes a whole collector batch and fsyncs the segment
// before it returns, which is when the collector may be acknowledged. The
// position file is replaced (write and rename, no fsync) after each delivered
// batch: after a power loss at most the last few delivered batches are
// delivered again, which at-least-once allows.
//
// The memory lane: while nothing waits on disk, Offer does not write a
// share at all. It waits in memory, is delivered from there, and is safe (its
// Send may acknowledge it) once delivered: until then the collector's source
// file, whose checkpoint advances only on the acknowledgement, holds it. When
// the destination falls behind (a delivery attempt fails, a share waited too
// long, the sink stops or is paused) Spill writes every share in memory to
// disk, in order, which makes them safe too; from then on shares are
// appended to disk until the disk part is delivered. So memory holds records
// only while the disk part is empty, and the order of Offers is the order of
// delivery. Writing and reading back every record cost a third of the
// collector's CPU end to end, for a guarantee the file already gave.
type buffer struct {
	dir      string
	maxBytes int64
	segSize  int64
	log      *slog.Logger

	mu     sync.Mutex
	segs   []int64  // start offsets of the segment files, ascending
	w      *os.File // the last segment, appended to
	wStart int64    // start offset of w
	wOff   int64    // end of the durable records
	rOff   int64    // start of the records not yet delivered
	events int64    // records between rOff and wOff
	// marks remember, per Append still in the buffer, where it ended and
	// when it was made, so that batching knows how long the head has waited.
	marks   []appendMark
	changed chan struct{} // closed and replaced whenever wOff or rOff moves
	closed  bool
	// blocked is called, without the lock, when an Append starts to wait for
	// space, and unblocked when it got its space again.
	blocked, unblocked func()
	waiting            int
	// writeErr is why the last write of the disk part failed (its
	// filesystem is full, most likely), since writeErrSince; nil once a
	// write succeeds. While it stands, Appends wait and try again.
	writeErr      error
	writeErrSince time.Time

	// The memory lane (see above): shares not yet delivered, in order; the
	// records of mem[0] before memOff were delivered. memBytes and
	// memEvents count what is left, memBytes as estimated by
	// estimateBytes.
	mem       []*memShare
	memOff    int
	memBytes  int64
	memEvents int64
	// peeked is how many records the last Peek took from memory, until
	// their Commit.
	peeked int
	// peekBuf holds the records of the last Peek from memory, reused.
	peekBuf []bufferedRecord
	// peekSpill is, after the records of the last Peek from memory were
	// spilled to disk, the disk offset where they end: their Commit then
	// commits them on disk. -1 otherwise.
	peekSpill int64
}

// memShare is one Offer's records waiting in the memory lane. done is
// closed once they are safe: delivered (or dead-lettered), or spilled to
// disk; or once the buffer closed (then err is set first).
type memShare struct {
	recs  []model.LogRecord
	bytes int64
	at    time.Time
	done  chan struct{}
	err   error
}

// cursor is where a Peek's records end, for Commit: a disk offset, or a
// count of records of the memory lane.
type cursor struct {
	off int64
	mem int
}

const (
	frameHeader   = 8
	stampSize     = 8
	maxFrameBytes = 64 << 20
	segSuffix     = ".seg"
	positionFile  = "position"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBufferClosed = errors.New("sink buffer is closed")

// writeRetry is how often an Append whose write failed tries again: space
// may come back without a delivery (a file deleted elsewhere on the
// filesystem).
const writeRetry = time.Second

type appendMark struct {
	end int64
	at  time.Time
}

// bufferedRecord is a record read back from the buffer.
type bufferedRecord struct {
	rec      model.LogRecord
	size     int // bytes of its buffered form
	buffered time.Time
}

// segmentSize is the size a segment grows to before the next one starts: an
// eighth of the buffer, so space comes back in steps while a backlog drains.
func segmentSize(maxBytes int64) int64 {
	return min(64<<20, max(maxBytes/8, 1024))
}

// openBuffer opens (creating if needed) the buffer in dir, recovering from a
// crash: a torn last record is cut off.
func openBuffer(dir string, maxBytes int64, log *slog.Logger) (*buffer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create buffer directory: %w", err)
	}
	b := &buffer{
		dir:       dir,
		maxBytes:  maxBytes,
		segSize:   segmentSize(maxBytes),
		log:       log,
		changed:   make(chan struct{}),
		peekSpill: -1,
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read buffer directory: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok {
			continue
		}
		off, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		b.segs = append(b.segs, off)
	}
	slices.Sort(b.segs)
	if text, err := os.ReadFile(filepath.Join(dir, positionFile)); err == nil {
		b.rOff, _ = strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64)
	}
	if len(b.segs) == 0 {
		b.segs = []int64{b.rOff}
	}
	b.rOff = max(b.rOff, b.segs[0])

	// Cut the last segment back to its last whole frame; count what waits.
	last := b.segs[len(b.segs)-1]
	f, err := os.OpenFile(b.segPath(last), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open buffer segment: %w", err)
	}
	valid, err := scanValid(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("scan buffer segment %s: %w", f.Name(), err)
	}
	if st, err := f.Stat(); err == nil && st.Size() > valid {
		log.Warn("cutting a torn record off the sink buffer", "segment", f.Name(), "bytes", st.Size()-valid)
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate torn buffer segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync buffer segment: %w", err)
		}
	}
	if _, err := f.Seek(valid, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek buffer segment: %w", err)
	}
	b.w, b.wStart, b.wOff = f, last, last+valid
	b.rOff = min(b.rOff, b.wOff)
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	var oldest time.Time
	b.events, oldest = b.count()
	if b.events > 0 {
		b.marks = []appendMark{{end: b.wOff, at: oldest}}
	}
	return b, nil
}

func (b *buffer) segPath(off int64) string {
	return filepath.Join(b.dir, fmt.Sprintf("%020d%s", off, segSuffix))
}

// scanValid returns the length of the run of whole, intact frames at the
// start of f.
func scanValid(f *os.File) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	var off int64
	for {
		_, n := parseFrame(data[off:])
		if n == 0 {
			return off, nil
		}
		off += int64(n)
	}
}

// parseFrame returns the payload of the frame at the start of data and the
// frame's length, or 0 when data does not start with a whole, intact frame.
func parseFrame(data []byte) ([]byte, int) {
	if len(data) < frameHeader {
		return nil, 0
	}
	n := binary.LittleEndian.Uint32(data)
	if n < stampSize || n > maxFrameBytes || len(data) < frameHeader+int(n) {
		return nil, 0
	}
	payload := data[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[4:]) {
		return nil, 0
	}
	return payload, frameHeader + int(n)
}

// appendFrame appends the frame of one record to dst.
func appendFrame(dst []byte, r model.LogRecord, now time.Time) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeader+stampSize)...)
	binary.LittleEndian.PutUint64(dst[start+frameHeader:], uint64(now.UnixNano()))
	dst = appendRecord(dst, r)
	payload := dst[start+frameHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// count walks the frames waiting in the buffer, for the record count and
// the time the oldest was buffered, without decoding them.
func (b *buffer) count() (int64, time.Time) {
	var n int64
	var oldest time.Time
	for i, start := range b.segs {
		segEnd := b.wOff
		if i+1 < len(b.segs) {
			segEnd = b.segs[i+1]
		}
		if segEnd <= b.rOff {
			continue
		}
		data, err := os.ReadFile(b.segPath(start))
		if err != nil {
			continue
		}
		pos := max(0, b.rOff-start)
		for pos < int64(len(data)) && start+pos < segEnd {
			payload, size := parseFrame(data[pos:])
			if size == 0 {
				break
			}
			if n == 0 {
				oldest = time.Unix(0, int64(binary.LittleEndian.Uint64(payload)))
			}
			n++
			pos += int64(size)
		}
	}
	return n, oldest
}

// Append adds records to the end of the buffer and returns once they are on
// disk. While the buffer holds maxBytes it waits for deliveries to make room
// (back-pressure); a batch larger than the whole buffer is taken when the
// buffer is empty.
func (b *buffer) Append(ctx context.Context, recs []model.LogRecord, now time.Time) error {
	_, err := b.put(ctx, recs, now, false)
	return err
}

// Offer adds records to the end of the buffer: to the memory lane when
// nothing waits on disk (the returned share's done closes once they are
// safe), else to disk as Append does (the share is nil: they are safe
// already). The memory lane too holds at most maxBytes, except that it
// takes one share whatever its size.
func (b *buffer) Offer(ctx context.Context, recs []model.LogRecord, now time.Time) (*memShare, error) {
	return b.put(ctx, recs, now, true)
}

// estimateBytes is about the size of records in the buffer's form.
func estimateBytes(recs []model.LogRecord) int64 {
	var n int64
	for i := range recs {
		n += recordBytes(&recs[i])
	}
	return n
}

// recordBytes is about the size of a record in the buffer's form, with 32
// bytes a label: it is counted for every record in memory, and a file's
// records share their labels.
func recordBytes(r *model.LogRecord) int64 {
	return int64(len(r.Project) + len(r.Service) + len(r.Instance) + len(r.Container) + len(r.Stream) + len(r.Log) + 24 + 32*len(r.Labels))
}

func (b *buffer) put(ctx context.Context, recs []model.LogRecord, now time.Time, memOK bool) (*memShare, error) {
	var data []byte
	encoded := false
	var est int64
	if memOK {
		est = estimateBytes(recs)
	}
	b.mu.Lock()
	waited := false
	defer func() {
		last := waited && b.waiting == 0
		b.mu.Unlock()
		if last && b.unblocked != nil {
			b.unblocked()
		}
	}()
	for {
		if b.closed {
			return nil, errBufferClosed
		}
		onDisk := b.wOff > b.rOff
		if memOK && !onDisk && (len(b.mem) == 0 || b.memBytes+est <= b.maxBytes) {
			sh := &memShare{recs: recs, bytes: est, at: now, done: make(chan struct{})}
			b.mem = append(b.mem, sh)
			b.memBytes += est
			b.memEvents += int64(len(recs))
			b.notifyLocked()
			return sh, nil
		}
		var werr error
		if !memOK && len(b.mem) > 0 {
			// Records in memory come first.
			if werr = b.spillLocked(); werr == nil {
				continue
			}
		} else if !memOK || onDisk {
			if !encoded {
				b.mu.Unlock()
				for _, r := range recs {
					data = appendFrame(data, r, now)
				}
				encoded = true
				b.mu.Lock()
				continue // things may have moved meanwhile
			}
			if !onDisk || b.wOff-b.rOff+int64(len(data)) <= b.maxBytes {
				if werr = b.writeLocked(data, []appendMark{{end: int64(len(data)), at: now}}, int64(len(recs))); werr == nil {
					return nil, nil
				}
			}
		}
		// No room, or the filesystem refused the write (it is full): wait
		// for deliveries, and after a failed write try again now and then.
		// The records are not taken until they are on disk, so the
		// collector holds them in its files meanwhile.
		ch := b.changed
		var timer *time.Timer
		var retry <-chan time.Time
		if werr != nil {
			timer = time.NewTimer(writeRetry)
			retry = timer.C
		}
		b.waiting++
		first := b.waiting == 1 && !waited
		b.mu.Unlock()
		if first && b.blocked != nil {
			b.blocked()
		}
		waited = true
		var err error
		select {
		case <-ch:
		case <-retry:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if timer != nil {
			timer.Stop()
		}
		b.mu.Lock()
		b.waiting--
		if err != nil {
			return nil, err
		}
	}
}

// writeLocked appends frames to the disk part and syncs them. marks' ends
// are relative to the start of data.
func (b *buffer) writeLocked(data []byte, marks []appendMark, events int64) error {
	if err := b.writeDataLocked(data); err != nil {
		if b.writeErr == nil {
			b.writeErrSince = time.Now()
			b.log.Error("cannot write the sink buffer; records wait for room, and the collector stops reading once its in-flight budget is used", "dir", b.dir, "error", err)
		}
		b.writeErr = err
		return err
	}
	if b.writeErr != nil {
		b.log.Info("the sink buffer can be written again", "dir", b.dir, "refused_for", time.Since(b.writeErrSince).Round(time.Second).String())
		b.writeErr, b.writeErrSince = nil, time.Time{}
	}
	for _, m := range marks {
		b.marks = append(b.marks, appendMark{end: b.wOff + m.end, at: m.at})
	}
	b.wOff += int64(len(data))
	b.events += events
	b.notifyLocked()
	return nil
}

// writeDataLocked appends data to the last segment (starting the next one
// when it is full) and syncs it; on failure the segment is cut back to
// wOff, so a later write starts at a frame boundary.
func (b *buffer) writeDataLocked(data []byte) error {
	if b.wOff-b.wStart >= b.segSize {
		if err := b.rotateLocked(); err != nil {
			return err
		}
	}
	if _, err := b.w.Write(data); err != nil {
		_ = b.w.Truncate(b.wOff - b.wStart)
		_, _ = b.w.Seek(b.wOff-b.wStart, io.SeekStart)
		return fmt.Errorf("write sink buffer: %w", err)
	}
	if err := b.w.Sync(); err != nil {
		_ = b.w.Truncate(b.wOff - b.wStart)
		_, _ = b.w.Seek(b.wOff-b.wStart, io.SeekStart)
		return fmt.Errorf("sync sink buffer: %w", err)
	}
	return nil
}

// held reports why records wait to be written: the error of the last
// failed write, and since when writes fail, while records wait in memory
// or an Append waits; nil otherwise.
func (b *buffer) held() (time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writeErr == nil || (len(b.mem) == 0 && b.waiting == 0) {
		return time.Time{}, nil
	}
	return b.writeErrSince, b.writeErr
}

// Spill writes the memory lane to disk, which makes its shares safe; see
// the type's comment for when. Records peeked from memory and still being
// delivered are written too, first: their Commit then commits them on disk.
func (b *buffer) Spill() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errBufferClosed
	}
	return b.spillLocked()
}

func (b *buffer) spillLocked() error {
	if len(b.mem) == 0 {
		return nil
	}
	var data []byte
	var marks []appendMark
	peekEnd := int64(-1)
	n := 0
	for i, sh := range b.mem {
		recs := sh.recs
		if i == 0 {
			recs = recs[b.memOff:]
		}
		for _, r := range recs {
			if n == b.peeked {
				peekEnd = int64(len(data))
			}
			data = appendFrame(data, r, sh.at)
			n++
		}
		marks = append(marks, appendMark{end: int64(len(data)), at: sh.at})
	}
	if n == b.peeked {
		peekEnd = int64(len(data))
	}
	start := b.wOff
	if err := b.writeLocked(data, marks, int64(n)); err != nil {
		return err
	}
	if b.peeked > 0 && peekEnd >= 0 {
		b.peekSpill = start + peekEnd
	}
	b.peeked = 0
	for _, sh := range b.mem {
		close(sh.done)
	}
	clear(b.mem)
	b.mem, b.memOff, b.memBytes, b.memEvents = b.mem[:0], 0, 0, 0
	return nil
}

// rotateLocked starts the next segment. The last one stays open until the
// next exists, so a failure (a full filesystem) leaves the buffer as it was
// and a later write tries again.
func (b *buffer) rotateLocked() error {
	f, err := os.OpenFile(b.segPath(b.wOff), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create buffer segment: %w", err)
	}
	if err := syncDir(b.dir); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := b.w.Close(); err != nil {
		b.log.Warn("closing a full buffer segment", "error", err)
	}
	b.w, b.wStart = f, b.wOff
	b.segs = append(b.segs, b.wOff)
	return nil
}

func (b *buffer) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Changed returns a channel closed at the next append or commit.
func (b *buffer) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Stats returns the bytes and records waiting, and when the oldest of them
// was buffered.
func (b *buffer) Stats() (bytes, events int64, oldest time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.marks) > 0 {
		oldest = b.marks[0].at
	} else if len(b.mem) > 0 {
		oldest = b.mem[0].at
	}
	return b.wOff - b.rOff + b.memBytes, b.events + b.memEvents, oldest
}

// Peek reads the records at the head of the buffer, at most maxEvents of
// them and maxBytes of JSON (but always one, when one waits): from disk, or
// from the memory lane when nothing waits on disk. next is what to Commit
// once they are delivered. Only the delivering goroutine calls Peek and
// Commit.
func (b *buffer) Peek(maxEvents int, maxBytes int64) (recs []bufferedRecord, next cursor, err error) {
	b.mu.Lock()
	b.peeked, b.peekSpill = 0, -1
	if b.wOff == b.rOff && len(b.mem) > 0 {
		recs = b.peekMemLocked(maxEvents, maxBytes)
		b.peeked = len(recs)
		b.mu.Unlock()
		return recs, cursor{mem: len(recs)}, nil
	}
	off := b.rOff
	b.mu.Unlock()
	recs, end, err := b.read(off, maxEvents, maxBytes, true)
	return recs, cursor{off: end}, err
}

// peekMemLocked takes records from the head of the memory lane, without
// removing them.
func (b *buffer) peekMemLocked(maxEvents int, maxBytes int64) []bufferedRecord {
	out := b.peekBuf[:0]
	var got int64
	defer func() { b.peekBuf = out }()
	for i, sh := range b.mem {
		recs := sh.recs
		if i == 0 {
			recs = recs[b.memOff:]
		}
		for j := range recs {
			size := recordBytes(&recs[j])
			if len(out) >= maxEvents || len(out) > 0 && got+size > maxBytes {
				return out
			}
			out = append(out, bufferedRecord{rec: recs[j], size: int(size), buffered: sh.at})
			got += size
		}
	}
	return out
}

// read reads records from off. A frame that fails its checksum inside the
// durable part (a damaged disk, not a crash) cannot be read: with skip, the
// rest of its segment is given up, logged, and reading goes on after it.
func (b *buffer) read(off int64, maxEvents int, maxBytes int64, skip bool) ([]bufferedRecord, int64, error) {
	b.mu.Lock()
	end := b.wOff
	segs := b.segs
	b.mu.Unlock()
	var out []bufferedRecord
	var got, need int64
	for off < end && len(out) < maxEvents && (len(out) == 0 || got < maxBytes) {
		i, _ := slices.BinarySearch(segs, off+1) // segs[i-1] <= off < segs[i]
		start := segs[i-1]
		segEnd := end
		if i < len(segs) {
			segEnd = min(segs[i], end)
		}
		chunk := min(segEnd-off, max(maxBytes-got+frameHeader+stampSize, 256<<10, need))
		need = 0
		data, err := readAt(b.segPath(start), off-start, chunk)
		if err != nil {
			return out, off, err
		}
		pos := 0
		for len(out) < maxEvents {
			payload, size := parseFrame(data[pos:])
			if size == 0 {
				break
			}
			recLen := int64(len(payload) - stampSize)
			if len(out) > 0 && got+recLen > maxBytes {
				return out, off + int64(pos), nil
			}
			r, err := decodeRecord(payload[stampSize:])
			if err != nil {
				break
			}
			stamp := int64(binary.LittleEndian.Uint64(payload))
			out = append(out, bufferedRecord{rec: r, size: int(recLen), buffered: time.Unix(0, stamp)})
			got += recLen
			pos += size
		}
		if pos > 0 {
			off += int64(pos)
			continue
		}
		// Nothing whole at off: a record longer than the chunk, or damage.
		if len(data) >= frameHeader {
			if l := int64(binary.LittleEndian.Uint32(data)); l <= maxFrameBytes && frameHeader+l > chunk && off+frameHeader+l <= segEnd {
				need = frameHeader + l
				continue
			}
		}
		if !skip {
			return out, off, nil
		}
		b.log.Error("skipping a damaged part of the sink buffer", "segment", b.segPath(start), "offset", off-start, "bytes", segEnd-off)
		off = segEnd
	}
	return out, off, nil
}

func readAt(path string, off, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open buffer segment: %w", err)
	}
	defer f.Close()
	data := make([]byte, n)
	got, err := f.ReadAt(data, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read buffer segment: %w", err)
	}
	return data[:got], nil
}

// Commit marks the records before next as delivered: segments wholly before
// it are removed and the position is saved. events is how many records that
// was.
func (b *buffer) Commit(next cursor, events int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if next.mem > 0 {
		b.peeked = 0
		clear(b.peekBuf) // delivered: let their text go
		if b.peekSpill >= 0 {
			// Spilled while they were delivered: they lead the disk part.
			next = cursor{off: b.peekSpill}
			b.peekSpill = -1
		} else {
			b.commitMemLocked(next.mem)
			return nil
		}
	}
	if next.off <= b.rOff {
		return nil
	}
	b.rOff = next.off
	b.events = max(0, b.events-int64(events))
	if b.rOff >= b.wOff {
		b.events = 0 // also after skipping a damaged part
	}
	for len(b.marks) > 0 && b.marks[0].end <= b.rOff {
		b.marks = b.marks[1:]
	}
	for len(b.segs) > 1 && b.segs[1] <= b.rOff {
		if err := os.Remove(b.segPath(b.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.log.Warn("cannot remove a delivered buffer segment", "error", err)
		}
		b.segs = b.segs[1:]
	}
	b.notifyLocked()
	tmp := filepath.Join(b.dir, positionFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(b.rOff, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("save buffer position: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(b.dir, positionFile)); err != nil {
		return fmt.Errorf("save buffer position: %w", err)
	}
	return nil
}

// Close closes the segment file and wakes every waiting Append. It is
// idempotent.
func (b *buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, sh := range b.mem {
		sh.err = errBufferClosed
		close(sh.done)
	}
	b.mem, b.memOff, b.memBytes, b.memEvents = nil, 0, 0, 0
	b.notifyLocked()
	return b.w.Close()
}

// commitMemLocked removes n delivered records from the head of the memory
// lane; shares wholly delivered are done.
func (b *buffer) commitMemLocked(n int) {
	for n > 0 && len(b.mem) > 0 {
		sh := b.mem[0]
		take := min(n, len(sh.recs)-b.memOff)
		b.memOff += take
		b.memEvents -= int64(take)
		n -= take
		if b.memOff < len(sh.recs) {
			break
		}
		b.memBytes -= sh.bytes
		close(sh.done)
		b.mem[0] = nil
		b.mem = b.mem[1:]
		b.memOff = 0
	}
	if len(b.mem) == 0 {
		b.mem, b.memBytes, b.memEvents = b.mem[:0], 0, 0
	}
	b.notifyLocked()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open buffer directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync buffer directory: %w", err)
	}
	return nil
}
