package datadog

import (
	"slices"
	"strconv"
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
// opshub's names; timestamp is in milliseconds. appendEntry writes the same
// JSON by hand; the struct is what tests decode.
type entry struct {
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
	Status    string `json:"status"`
	Service   string `json:"service,omitempty"`
	Source    string `json:"ddsource"`
	Hostname  string `json:"hostname,omitempty"`
	Tags      string `json:"ddtags"`
}

// appendEntry appends the JSON of r's entry to dst, its message cut so that
// the whole entry fits maxLogBytes.
func (d *Destination) appendEntry(dst []byte, r model.LogRecord) []byte {
	msg := r.Log
	if d.json {
		msg = string(sinks.AppendJSON(nil, r))
	}
	start := len(dst)
	dst = d.appendEntryWith(dst, r, msg)
	for len(dst)-start > maxLogBytes {
		// Escaping can make the JSON longer than the message; cut by the
		// excess and try again until it fits.
		keep := len(msg) - (len(dst) - start - maxLogBytes) - len(truncatedMarker)
		msg = cutUTF8(strings.TrimSuffix(msg, truncatedMarker), max(keep, 0)) + truncatedMarker
		dst = d.appendEntryWith(dst[:start], r, msg)
	}
	return dst
}

func (d *Destination) appendEntryWith(dst []byte, r model.LogRecord, msg string) []byte {
	dst = append(dst, `{"message":`...)
	dst = sinks.AppendJSONString(dst, msg)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, r.Time.UnixMilli(), 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status(r.Stream)...)
	dst = append(dst, '"')
	service := d.cfg.Service
	if service == "" {
		service = r.Service
	}
	if service != "" {
		dst = append(dst, `,"service":`...)
		dst = sinks.AppendJSONString(dst, service)
	}
	dst = append(dst, `,"ddsource":`...)
	dst = sinks.AppendJSONString(dst, d.cfg.Source)
	if d.cfg.Hostname != "" {
		dst = append(dst, `,"hostname":`...)
		dst = sinks.AppendJSONString(dst, d.cfg.Hostname)
	}
	dst = append(dst, `,"ddtags":"`...)
	dst = d.appendTags(dst, r)
	return append(dst, '"', '}')
}

// status maps the stream to Datadog's status attribute: output on stderr
// is shown as an error, stdout as info.
func status(stream string) string {
	if stream == "stderr" {
		return "error"
	}
	return "info"
}

// appendTags appends ddtags, escaped for the inside of a JSON string: the
// configured tags, then the record's project, instance, container, stream
// and enrichment labels.
func (d *Destination) appendTags(dst []byte, r model.LogRecord) []byte {
	first := true
	add := func(k, v string) {
		if v == "" {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if k != "" {
			dst = appendEscaped(dst, k)
			dst = append(dst, ':')
		}
		if strings.Contains(v, ",") {
			v = strings.ReplaceAll(v, ",", "_")
		}
		dst = appendEscaped(dst, v)
	}
	for _, t := range d.cfg.Tags {
		add("", t)
	}
	add("project", r.Project)
	add("instance", r.Instance)
	add("container", r.Container)
	add("stream", r.Stream)
	if len(r.Labels) > 0 {
		var arr [8]string // enough for the usual labels without an allocation
		keys := arr[:0]
		for k := range r.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			add(k, r.Labels[k])
		}
	}
	return dst
}

// appendEscaped appends s escaped as inside a JSON string, without quotes.
func appendEscaped(dst []byte, s string) []byte {
	n := len(dst)
	dst = sinks.AppendJSONString(dst, s)
	// Drop the quotes AppendJSONString put around it.
	copy(dst[n:], dst[n+1:len(dst)-1])
	return dst[:len(dst)-2]
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
	// Each body is sized for what is left, up to the limit, so that it is
	// allocated once.
	left := 2
	for _, e := range entries {
		left += len(e) + 1
	}
	newPayload := func() payload {
		return payload{body: append(make([]byte, 0, min(left, maxPayloadBytes)), '[')}
	}
	cur := newPayload()
	for i, e := range entries {
		if len(cur.indexes) == maxPayloadLogs || len(cur.body)+1+len(e)+1 > maxPayloadBytes && len(cur.indexes) > 0 {
			out = append(out, cur.close())
			cur = newPayload()
		}
		left -= len(e) + 1
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
