package collector

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
)

// Direction orders query results.
type Direction string

// Directions: forward returns the oldest matching lines first, backward the
// newest first.
const (
	Forward  Direction = "forward"
	Backward Direction = "backward"
)

// Query limits.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 10000
)

// Query selects log lines of one service, or of one of its containers.
type Query struct {
	Project, Service string
	// Container, when set, selects one container: it matches an instance
	// (pod) name or a container name.
	Container string
	// From and To bound the lines' times (From inclusive, To exclusive);
	// zero means unbounded.
	From, To  time.Time
	Limit     int
	Direction Direction
	// TextIncludes and TextNotIncludes are substrings a line must and must
	// not hold; the regexes likewise.
	TextIncludes, TextNotIncludes   string
	RegexIncludes, RegexNotIncludes *regexp.Regexp
}

func (q *Query) normalize() {
	if q.Limit <= 0 {
		q.Limit = DefaultQueryLimit
	}
	q.Limit = min(q.Limit, MaxQueryLimit)
	if q.Direction == "" {
		q.Direction = Backward
	}
}

func (q *Query) matchText(s string) bool {
	return (q.TextIncludes == "" || strings.Contains(s, q.TextIncludes)) &&
		(q.TextNotIncludes == "" || !strings.Contains(s, q.TextNotIncludes)) &&
		(q.RegexIncludes == nil || q.RegexIncludes.MatchString(s)) &&
		(q.RegexNotIncludes == nil || !q.RegexNotIncludes.MatchString(s))
}

func (q *Query) matchTime(t time.Time) bool {
	return (q.From.IsZero() || !t.Before(q.From)) && (q.To.IsZero() || t.Before(q.To))
}

// ErrNoLogs is wrapped when no log directory belongs to the service asked for.
var ErrNoLogs = errors.New("no logs found")

// Reader answers queries and live tails by reading the log files
// themselves, current, rotated and compressed, independently of the
// collector's progress towards the sinks.
type Reader struct {
	roots    []string
	resolver Resolver
	maxLine  int
	now      func() time.Time
	poll     time.Duration
}

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	Roots        []string
	Resolver     Resolver
	MaxLineBytes int
	Now          func() time.Time
	// PollInterval is how often Follow looks for new lines; default 200ms.
	PollInterval time.Duration
}

// NewReader returns a Reader over the roots.
func NewReader(opts ReaderOptions) *Reader {
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	return &Reader{roots: opts.Roots, resolver: opts.Resolver, maxLine: opts.MaxLineBytes, now: opts.Now, poll: opts.PollInterval}
}

// container is one container's log directory.
type container struct {
	dir    string
	ref    model.Ref
	labels model.Labels
}

// containers lists the log directories the query selects.
func (r *Reader) containers(q *Query) []container {
	var out []container
	// A resolver may put a pod in a project other than its namespace (a
	// project label), so only the path's own rule may skip a directory by
	// its name.
	pod := func(_ fs.DirEntry, src Source) bool { return r.resolver != nil || src.Namespace == q.Project }
	for _, root := range r.roots {
		containerDirs(root, pod, func(dir string, s Source) {
			ref, labels, _ := resolve(r.resolver, s)
			if ref.Project != q.Project || ref.Service != q.Service {
				return
			}
			if q.Container != "" && q.Container != ref.Instance && q.Container != ref.Container {
				return
			}
			out = append(out, container{dir: dir, ref: ref, labels: labels})
		})
	}
	return out
}

// logFile is one file of a container, in the order files were written.
type logFile struct {
	path string
	kind fileKind
	id   fileID
	size int64
	mod  time.Time
}

func listFiles(dir string) []logFile {
	entries, _ := os.ReadDir(dir)
	var out []logFile
	for _, e := range entries {
		kind, _ := classify(e.Name())
		if kind == kindOther {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		out = append(out, logFile{path: path, kind: kind, id: idOf(info), size: info.Size(), mod: info.ModTime()})
	}
	slices.SortFunc(out, func(a, b logFile) int {
		ra, ca, na := fileOrder(a.path)
		rb, cb, nb := fileOrder(b.path)
		if ra != rb {
			return ra - rb
		}
		if ca != cb {
			return ca - cb
		}
		return strings.Compare(na, nb)
	})
	return out
}

// readFile reads path from offset and calls emit for every line. It returns
// the offset after the last whole line (where a later read resumes). The
// last partial line is emitted too when flush is set.
func (r *Reader) readFile(ctx context.Context, f logFile, offset int64, flush bool, emit func(*line)) (int64, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return offset, err
	}
	defer fh.Close()
	var in io.Reader = fh
	if f.kind == kindGzip {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return offset, fmt.Errorf("read %s: %w", f.path, err)
		}
		defer zr.Close()
		in = zr
		if _, err := io.CopyN(io.Discard, zr, offset); err != nil {
			return offset, nil
		}
	} else if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	lr := newLineReader(in, make([]byte, 64<<10), offset)
	dec := newDecoder(r.maxLine, r.now, emit)
	safe := offset
	for i := 0; ; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return safe, ctx.Err()
		}
		b, more, ok, err := lr.next()
		if !ok {
			if err != nil && err != io.EOF {
				return safe, fmt.Errorf("read %s: %w", f.path, err)
			}
			break
		}
		dec.feed(b, more)
		if !dec.pending() {
			safe = lr.off
		}
	}
	if flush {
		dec.flush()
		safe = lr.off
	}
	return safe, nil
}

// record turns a decoded line into a record of c.
func record(c container, l *line) model.LogRecord {
	var text strings.Builder
	writeText(&text, l)
	return model.LogRecord{Time: l.time, Ref: c.ref, Stream: l.stream, Log: text.String(), Labels: c.labels, Truncated: l.dropped > 0}
}

// Query returns the lines q selects, at most q.Limit, oldest first for
// Forward and newest first for Backward. It wraps ErrNoLogs when the
// service has no log directory.
func (r *Reader) Query(ctx context.Context, q Query) ([]model.LogRecord, error) {
	q.normalize()
	conts := r.containers(&q)
	if len(conts) == 0 {
		return nil, fmt.Errorf("logs of %s/%s: %w", q.Project, q.Service, ErrNoLogs)
	}
	var all []model.LogRecord
	for _, c := range conts {
		recs, _, err := r.queryContainer(ctx, c, &q)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
	}
	slices.SortStableFunc(all, func(a, b model.LogRecord) int { return a.Time.Compare(b.Time) })
	if q.Direction == Forward {
		return all[:min(len(all), q.Limit)], nil
	}
	all = all[max(0, len(all)-q.Limit):]
	slices.Reverse(all)
	return all, nil
}

// queryContainer reads the files of one container and returns its matching
// lines in time order (the first Limit for Forward, the last Limit for
// Backward) and where each file's whole lines end.
func (r *Reader) queryContainer(ctx context.Context, c container, q *Query) ([]model.LogRecord, map[fileID]int64, error) {
	var out []model.LogRecord
	ends := map[fileID]int64{}
	full := false
	for _, f := range listFiles(c.dir) {
		if f.kind != kindGzip {
			ends[f.id] = f.size
		}
		if full || (!q.From.IsZero() && f.mod.Before(q.From)) {
			continue
		}
		end, err := r.readFile(ctx, f, 0, f.kind != kindCurrent, func(l *line) {
			if full || !q.matchTime(l.time) {
				return
			}
			rec := record(c, l)
			if !q.matchText(rec.Log) {
				return
			}
			out = append(out, rec)
			if q.Direction == Forward && len(out) >= q.Limit {
				full = true
			} else if q.Direction == Backward && len(out) >= 2*q.Limit {
				out = append(out[:0], out[len(out)-q.Limit:]...)
			}
		})
		if err != nil {
			return nil, nil, err
		}
		if f.kind != kindGzip {
			ends[f.id] = end
		}
	}
	if q.Direction == Backward && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, ends, nil
}

// Follow sends the last q.Limit lines q selects, oldest first, then every
// new line as it is written, until ctx ends. Containers that start later
// (new instances, restarts) are followed too. It returns ctx's error, or
// the first error send returns.
func (r *Reader) Follow(ctx context.Context, q Query, send func(model.LogRecord) error) error {
	q.normalize()
	q.Direction = Backward
	conts := r.containers(&q)
	offsets := map[fileID]int64{}
	var start []model.LogRecord
	for _, c := range conts {
		recs, ends, err := r.queryContainer(ctx, c, &q)
		if err != nil {
			return err
		}
		start = append(start, recs...)
		for id, off := range ends {
			offsets[id] = off
		}
	}
	slices.SortStableFunc(start, func(a, b model.LogRecord) int { return a.Time.Compare(b.Time) })
	for _, rec := range start[max(0, len(start)-q.Limit):] {
		if err := send(rec); err != nil {
			return err
		}
	}
	// New lines are not bounded by time any more, only by To.
	q.From = time.Time{}
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		seen := map[fileID]bool{}
		for _, c := range r.containers(&q) {
			for _, f := range listFiles(c.dir) {
				if f.kind == kindGzip {
					continue
				}
				seen[f.id] = true
				off, known := offsets[f.id]
				if !known && f.kind != kindCurrent {
					// A copy made by copytruncate: its lines were read
					// from the original.
					offsets[f.id] = f.size
					continue
				}
				if known && f.size == off {
					continue
				}
				if f.size < off {
					off = 0 // truncated in place
				}
				var sendErr error
				end, err := r.readFile(ctx, f, off, false, func(l *line) {
					if sendErr != nil || !q.matchTime(l.time) {
						return
					}
					rec := record(c, l)
					if q.matchText(rec.Log) {
						sendErr = send(rec)
					}
				})
				if sendErr != nil {
					return sendErr
				}
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				offsets[f.id] = end
			}
		}
		for id := range offsets {
			if !seen[id] {
				delete(offsets, id)
			}
		}
	}
}
