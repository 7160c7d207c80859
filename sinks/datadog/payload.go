package datadog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// The intake's documented limits.
const (
	maxPayloadBytes = 5_000_000 // per request, uncompressed
	maxPayloadLogs  = 1000      // entries per array
	maxLogBytes     = 1_000_000 // per log
)

// truncatedMarker ends a message cut to fit maxLogBytes.
const truncatedMarker = " [truncated by opshub: over Datadog's 1 MB limit]"

// entry is one log as the intake reads it. The reserved attributes carry
// opshub's names; timestamp is in milliseconds.
type entry struct {
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
	Status    string `json:"status"`
	Service   string `json:"service,omitempty"`
	Source    string `json:"ddsource"`
	Hostname  string `json:"hostname,omitempty"`
	Tags      string `json:"ddtags"`
}

// encodeEntry returns the JSON of r's entry, its message cut so that the
// whole entry fits maxLogBytes.
func (d *Destination) encodeEntry(r model.LogRecord) ([]byte, error) {
	e := entry{
		Message:   r.Log,
		Timestamp: r.Time.UnixMilli(),
		Status:    status(r.Stream),
		Service:   d.cfg.Service,
		Source:    d.cfg.Source,
		Hostname:  d.cfg.Hostname,
		Tags:      d.tags(r),
	}
	if e.Service == "" {
		e.Service = r.Service
	}
	if d.json {
		e.Message = string(sinks.AppendJSON(nil, r))
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode datadog log: %w", err)
	}
	for len(b) > maxLogBytes {
		// Escaping can make the JSON longer than the message; cut by the
		// excess and try again until it fits.
		keep := len(e.Message) - (len(b) - maxLogBytes) - len(truncatedMarker)
		e.Message = cutUTF8(strings.TrimSuffix(e.Message, truncatedMarker), max(keep, 0)) + truncatedMarker
		if b, err = json.Marshal(e); err != nil {
			return nil, fmt.Errorf("encode datadog log: %w", err)
		}
	}
	return b, nil
}

// status maps the stream to Datadog's status attribute: output on stderr
// is shown as an error, stdout as info.
func status(stream string) string {
	if stream == "stderr" {
		return "error"
	}
	return "info"
}

// tags renders ddtags: the configured tags, then the record's project,
// instance, container, stream and enrichment labels.
func (d *Destination) tags(r model.LogRecord) string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if k != "" {
			b.WriteString(k)
			b.WriteByte(':')
		}
		b.WriteString(strings.ReplaceAll(v, ",", "_"))
	}
	for _, t := range d.cfg.Tags {
		add("", t)
	}
	add("project", r.Project)
	add("instance", r.Instance)
	add("container", r.Container)
	add("stream", r.Stream)
	for _, k := range sortedKeys(r.Labels) {
		add(k, r.Labels[k])
	}
	return b.String()
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// payload is one request: a JSON array and the indexes of its records.
type payload struct {
	body    []byte
	indexes []int
}

// split packs encoded entries into payloads within the intake's limits,
// keeping record order.
func split(entries [][]byte) []payload {
	var out []payload
	cur := payload{body: []byte{'['}}
	for i, e := range entries {
		if len(cur.indexes) == maxPayloadLogs || len(cur.body)+1+len(e)+1 > maxPayloadBytes && len(cur.indexes) > 0 {
			out = append(out, cur.close())
			cur = payload{body: []byte{'['}}
		}
		if len(cur.indexes) > 0 {
			cur.body = append(cur.body, ',')
		}
		cur.body = append(cur.body, e...)
		cur.indexes = append(cur.indexes, i)
	}
	if len(cur.indexes) > 0 {
		out = append(out, cur.close())
	}
	return out
}

func (p payload) close() payload {
	p.body = append(p.body, ']')
	return p
}

func sortedKeys(l model.Labels) []string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
