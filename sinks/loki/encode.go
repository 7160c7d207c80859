package loki

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/s2"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// encoder turns a batch into a push request body. It keeps its buffers
// between batches; one encoder serves one batch at a time.
type encoder struct {
	static    []push.LabelAdapter // static labels, sorted by name
	promoted  []promotedKey       // enrichment label keys that become stream labels
	json      bool                // the line is the record's JSON form, not the raw line
	streams   map[string]int      // stream labels → index in req.Streams
	names     map[string]string   // enrichment key → label name
	req       push.PushRequest
	labelBuf  []byte
	stream    []push.LabelAdapter
	protoBuf  []byte
	snappyBuf []byte
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
	clear(e.streams)
	e.req.Streams = e.req.Streams[:0]
	for i := range records {
		r := &records[i]
		labels := e.streamLabels(r)
		idx, ok := e.streams[string(labels)]
		if !ok {
			idx = len(e.req.Streams)
			e.streams[string(labels)] = idx
			e.req.Streams = append(e.req.Streams, push.Stream{Labels: string(labels)})
		}
		s := &e.req.Streams[idx]
		s.Entries = append(s.Entries, e.entry(r))
	}
	for i := range e.req.Streams {
		// Loki refuses entries older than the newest one it has in a
		// stream (unless configured otherwise), so send each stream in
		// time order; a stable sort keeps lines of the same instant in the
		// order they were written.
		slices.SortStableFunc(e.req.Streams[i].Entries, func(a, b push.Entry) int {
			return a.Timestamp.Compare(b.Timestamp)
		})
	}
	size := e.req.Size()
	e.protoBuf = slices.Grow(e.protoBuf[:0], size)[:size]
	n, err := e.req.MarshalToSizedBuffer(e.protoBuf)
	if err != nil {
		return nil, fmt.Errorf("encode loki push request: %w", err)
	}
	// s2 writes snappy's block format, faster than the reference encoder.
	e.snappyBuf = s2.EncodeSnappy(e.snappyBuf[:cap(e.snappyBuf)], e.protoBuf[size-n:])
	// Drop the entries but keep the stream slice, so the next batch reuses
	// it without holding on to this batch's lines.
	for i := range e.req.Streams {
		e.req.Streams[i] = push.Stream{}
	}
	return e.snappyBuf, nil
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

// entry builds the record's entry: the line, and as structured metadata
// the instance, the enrichment labels not promoted to stream labels, and the
// truncation mark.
func (e *encoder) entry(r *model.LogRecord) push.Entry {
	ent := push.Entry{Timestamp: r.Time, Line: r.Log}
	if e.json {
		ent.Line = string(sinks.AppendJSON(nil, *r))
	}
	n := len(r.Labels) + 2
	if r.Instance == "" && !r.Truncated && len(r.Labels) == 0 {
		return ent
	}
	md := make(push.LabelsAdapter, 0, n)
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
	ent.StructuredMetadata = md
	return ent
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
