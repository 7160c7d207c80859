package loki

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/s2"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// encoder turns a batch into a push request body: Loki's PushRequest
// protobuf, written here straight from the records (the same bytes
// push.PushRequest.Marshal gives), then snappy. It keeps its buffers between
// batches; one encoder serves one batch at a time.
type encoder struct {
	static   []push.LabelAdapter // static labels, sorted by name
	promoted []promotedKey       // enrichment label keys that become stream labels
	json     bool                // the line is the record's JSON form, not the raw line
	names    map[string]string   // enrichment key → label name

	streams  map[string]int // stream labels → index in list
	list     []stream
	entries  []entry
	labelBuf []byte
	stream   []push.LabelAdapter
	meta     []push.LabelAdapter
	mdBuf    []byte // encoded structured metadata of the entries
	lineBuf  []byte // the entries' lines, with json
	// The stream and metadata of the last record: records of one file come
	// in runs that share them.
	last     *model.LogRecord
	lastIdx  int
	lastMeta [2]int32

	protoBuf  []byte
	snappyBuf []byte
}

// stream is one stream of the request: its labels and its entries, as
// indexes into encoder.entries.
type stream struct {
	labels  string
	entries []int32
}

// entry is one record's entry: where its line and metadata are, and its
// encoded size.
type entry struct {
	rec          int32
	line         [2]int32 // in lineBuf, with json
	meta         [2]int32 // in mdBuf
	tsSize, size int32
}

// promotedKey is an enrichment label key and the Loki label name it gets.
type promotedKey struct{ key, name string }

func newEncoder(c Config, jsonLines bool) *encoder {
	e := &encoder{json: jsonLines, streams: map[string]int{}, names: map[string]string{}}
	for name, v := range c.Labels {
		e.static = append(e.static, push.LabelAdapter{Name: name, Value: v})
	}
	for _, k := range c.LabelKeys {
		name := sanitizeLabelName(k)
		if reserved(name) || c.Labels[name] != "" {
			continue
		}
		e.promoted = append(e.promoted, promotedKey{key: k, name: name})
	}
	return e
}

// encode returns the snappy-compressed protobuf push request for records.
// The returned slice is valid until the next call.
func (e *encoder) encode(records []model.LogRecord) ([]byte, error) {
	if len(records) > math.MaxInt32 {
		return nil, fmt.Errorf("encode loki push request: %d records in one batch", len(records))
	}
	clear(e.streams)
	for i := range e.list {
		e.list[i].entries = e.list[i].entries[:0]
	}
	e.list = e.list[:0]
	e.entries = e.entries[:0]
	e.mdBuf, e.lineBuf = e.mdBuf[:0], e.lineBuf[:0]
	e.last = nil
	for i := range records {
		r := &records[i]
		idx := e.streamOf(r)
		ent := entry{rec: int32(i), meta: e.metadata(r)}
		line := len(r.Log)
		if e.json {
			start := len(e.lineBuf)
			e.lineBuf = sinks.AppendJSON(e.lineBuf, *r)
			ent.line = [2]int32{int32(start), int32(len(e.lineBuf))}
			line = len(e.lineBuf) - start
		}
		ent.tsSize = int32(timestampSize(r.Time))
		size := 1 + sov(uint64(ent.tsSize)) + int(ent.tsSize) + int(ent.meta[1]-ent.meta[0])
		if line > 0 {
			size += 1 + sov(uint64(line)) + line
		}
		ent.size = int32(size)
		e.list[idx].entries = append(e.list[idx].entries, int32(len(e.entries)))
		e.entries = append(e.entries, ent)
		e.last = r
	}
	e.last = nil
	total := 0
	for i := range e.list {
		s := &e.list[i]
		// Loki refuses entries older than the newest one it has in a
		// stream (unless configured otherwise), so send each stream in
		// time order; a stable sort keeps lines of the same instant in the
		// order they were written. A file's lines are mostly in order
		// already.
		byTime := func(a, b int32) int {
			return records[e.entries[a].rec].Time.Compare(records[e.entries[b].rec].Time)
		}
		if !slices.IsSortedFunc(s.entries, byTime) {
			slices.SortStableFunc(s.entries, byTime)
		}
		size := s.size(e.entries)
		total += 1 + sov(uint64(size)) + size
	}
	b := slices.Grow(e.protoBuf[:0], total)
	for i := range e.list {
		s := &e.list[i]
		b = appendKeyLen(b, 1, s.size(e.entries))
		if len(s.labels) > 0 {
			b = appendBytesField(b, 1, s.labels)
		}
		for _, j := range s.entries {
			ent := &e.entries[j]
			r := &records[ent.rec]
			b = appendKeyLen(b, 2, int(ent.size))
			b = appendKeyLen(b, 1, int(ent.tsSize))
			if sec := r.Time.Unix(); sec != 0 {
				b = append(b, 1<<3)
				b = binary.AppendUvarint(b, uint64(sec))
			}
			if ns := r.Time.Nanosecond(); ns != 0 {
				b = append(b, 2<<3)
				b = binary.AppendUvarint(b, uint64(ns))
			}
			if e.json {
				if line := e.lineBuf[ent.line[0]:ent.line[1]]; len(line) > 0 {
					b = appendKeyLen(b, 2, len(line))
					b = append(b, line...)
				}
			} else if len(r.Log) > 0 {
				b = appendBytesField(b, 2, r.Log)
			}
			b = append(b, e.mdBuf[ent.meta[0]:ent.meta[1]]...)
		}
	}
	if len(b) != total {
		return nil, fmt.Errorf("encode loki push request: wrote %d bytes, sized %d", len(b), total)
	}
	e.protoBuf = b
	// s2 writes snappy's block format, faster than the reference encoder.
	e.snappyBuf = s2.EncodeSnappy(e.snappyBuf[:cap(e.snappyBuf)], b)
	return e.snappyBuf, nil
}

// size is the encoded size of the StreamAdapter message.
func (s *stream) size(entries []entry) int {
	n := 0
	if len(s.labels) > 0 {
		n += 1 + sov(uint64(len(s.labels))) + len(s.labels)
	}
	for _, j := range s.entries {
		size := int(entries[j].size)
		n += 1 + sov(uint64(size)) + size
	}
	return n
}

// timestampSize is the encoded size of the Timestamp message of t, as
// gogo's StdTime writes it.
func timestampSize(t time.Time) int {
	n := 0
	if sec := t.Unix(); sec != 0 {
		n += 1 + sov(uint64(sec))
	}
	if ns := t.Nanosecond(); ns != 0 {
		n += 1 + sov(uint64(ns))
	}
	return n
}

// sov is the size of v as a protobuf varint.
func sov(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// appendKeyLen appends the key of a length-delimited field and its length.
func appendKeyLen(b []byte, field, length int) []byte {
	b = append(b, byte(field<<3|2))
	return binary.AppendUvarint(b, uint64(length))
}

func appendBytesField(b []byte, field int, s string) []byte {
	b = appendKeyLen(b, field, len(s))
	return append(b, s...)
}

// sameLabels reports whether a and b are the same labels: the collector
// hands one map to every record of a file, so identity is the quick answer.
func sameLabels(a, b model.Labels) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() {
		return true
	}
	return maps.Equal(a, b)
}

// streamOf returns the index of the record's stream in e.list, adding it
// when it is new.
func (e *encoder) streamOf(r *model.LogRecord) int {
	if l := e.last; l != nil && l.Project == r.Project && l.Service == r.Service && l.Container == r.Container &&
		l.Stream == r.Stream && (len(e.promoted) == 0 || sameLabels(l.Labels, r.Labels)) {
		return e.lastIdx
	}
	labels := e.streamLabels(r)
	idx, ok := e.streams[string(labels)]
	if !ok {
		idx = len(e.list)
		e.streams[string(labels)] = idx
		if idx < cap(e.list) {
			e.list = e.list[:idx+1]
			e.list[idx].labels = string(labels)
		} else {
			e.list = append(e.list, stream{labels: string(labels)})
		}
	}
	e.lastIdx = idx
	return idx
}

// streamLabels renders the record's stream labels in Prometheus' text form,
// sorted by name, into e.labelBuf.
func (e *encoder) streamLabels(r *model.LogRecord) []byte {
	ls := append(e.stream[:0], e.static...)
	add := func(name, value string) {
		if value != "" {
			ls = append(ls, push.LabelAdapter{Name: name, Value: value})
		}
	}
	add("project", r.Project)
	add("service", r.Service)
	add("container", r.Container)
	add("stream", r.Stream)
	for _, p := range e.promoted {
		add(p.name, r.Labels[p.key])
	}
	if len(ls) == 0 {
		// Loki refuses a stream without labels.
		ls = append(ls, push.LabelAdapter{Name: "job", Value: "opshub"})
	}
	slices.SortFunc(ls, func(a, b push.LabelAdapter) int { return strings.Compare(a.Name, b.Name) })
	b := append(e.labelBuf[:0], '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l.Name...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, l.Value)
	}
	b = append(b, '}')
	e.stream, e.labelBuf = ls, b
	return b
}

// metadata appends the record's structured metadata to e.mdBuf, encoded as
// the entry's repeated field 3, and returns where it is: the instance, the
// enrichment labels not promoted to stream labels, and the truncation mark,
// sorted by name. A record with the same as the last one shares its bytes.
func (e *encoder) metadata(r *model.LogRecord) [2]int32 {
	if l := e.last; l != nil && l.Instance == r.Instance && l.Truncated == r.Truncated && sameLabels(l.Labels, r.Labels) {
		return e.lastMeta
	}
	start := len(e.mdBuf)
	md := e.meta[:0]
	if r.Instance != "" {
		md = append(md, push.LabelAdapter{Name: "instance", Value: r.Instance})
	}
	for k, v := range r.Labels {
		if e.isPromoted(k) {
			continue
		}
		md = append(md, push.LabelAdapter{Name: e.labelName(k), Value: v})
	}
	if r.Truncated {
		md = append(md, push.LabelAdapter{Name: "truncated", Value: "true"})
	}
	// Map order is random; a stable order keeps requests reproducible.
	slices.SortFunc(md, func(a, b push.LabelAdapter) int { return strings.Compare(a.Name, b.Name) })
	for _, l := range md {
		size := 0
		if len(l.Name) > 0 {
			size += 1 + sov(uint64(len(l.Name))) + len(l.Name)
		}
		if len(l.Value) > 0 {
			size += 1 + sov(uint64(len(l.Value))) + len(l.Value)
		}
		e.mdBuf = appendKeyLen(e.mdBuf, 3, size)
		if len(l.Name) > 0 {
			e.mdBuf = appendBytesField(e.mdBuf, 1, l.Name)
		}
		if len(l.Value) > 0 {
			e.mdBuf = appendBytesField(e.mdBuf, 2, l.Value)
		}
	}
	clear(md)
	e.meta = md
	e.lastMeta = [2]int32{int32(start), int32(len(e.mdBuf))}
	return e.lastMeta
}

// labelName is sanitizeLabelName, remembered: enrichment keys repeat on
// every record.
func (e *encoder) labelName(key string) string {
	if name, ok := e.names[key]; ok {
		return name
	}
	name := sanitizeLabelName(key)
	if len(e.names) < 1024 {
		e.names[key] = name
	}
	return name
}

func (e *encoder) isPromoted(key string) bool {
	for _, p := range e.promoted {
		if p.key == key {
			return true
		}
	}
	return false
}

// sanitizeLabelName maps an enrichment key such as app.kubernetes.io/name
// to a valid Loki label name (app_kubernetes_io_name).
func sanitizeLabelName(k string) string {
	if k == "" {
		return "_"
	}
	valid := true
	for i := 0; i < len(k) && valid; i++ {
		valid = labelByte(k[i], i)
	}
	if valid {
		return k
	}
	b := []byte(k)
	for i, c := range b {
		if !labelByte(c, i) {
			b[i] = '_'
		}
	}
	return string(b)
}

// labelByte reports whether c may stand at position i of a label name.
func labelByte(c byte, i int) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
}
