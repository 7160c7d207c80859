package sinks

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/opshub/opshub/model"
)

// Encodings of records, as the sink's encoding key names them.
const (
	EncodingText = "text"
	EncodingJSON = "json"
)

// AppendFunc appends one record in some encoding to dst, without a trailing
// newline; framing is the destination's business.
type AppendFunc func(dst []byte, r model.LogRecord) []byte

// AppendLines appends records to dst as fn encodes them, each followed by a
// newline: the body of a file or stream of lines.
func AppendLines(dst []byte, fn AppendFunc, records []model.LogRecord) []byte {
	for _, r := range records {
		dst = fn(dst, r)
		dst = append(dst, '\n')
	}
	return dst
}

// Encoder returns the append function of an encoding ("" means json).
func Encoder(encoding string) (AppendFunc, error) {
	switch encoding {
	case EncodingJSON, "":
		return AppendJSON, nil
	case EncodingText:
		return AppendText, nil
	}
	return nil, fmt.Errorf("unknown encoding %q (known encodings: json, text)", encoding)
}

// AppendText appends the text form of a record: "<ts> <stream> <line>",
// the time in RFC 3339 with nanoseconds, UTC.
func AppendText(dst []byte, r model.LogRecord) []byte {
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, ' ')
	dst = append(dst, r.Stream...)
	dst = append(dst, ' ')
	return append(dst, r.Log...)
}

// AppendJSON appends the JSON record of the user-facing contract, with the
// same fields and omissions as encoding/json gives model.LogRecord (labels
// sorted by key), the time in UTC. It is the hot path of every JSON sink,
// so it writes the bytes itself instead of going through reflection.
func AppendJSON(dst []byte, r model.LogRecord) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "project", r.Project, true)
	dst = appendField(dst, "service", r.Service, true)
	dst = appendField(dst, "instance", r.Instance, true)
	dst = appendField(dst, "container", r.Container, true)
	dst = appendField(dst, "stream", r.Stream, false)
	dst = appendField(dst, "log", r.Log, false)
	if len(r.Labels) > 0 {
		dst = append(dst, `,"labels":{`...)
		keys := make([]string, 0, len(r.Labels))
		for k := range r.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, r.Labels[k])
		}
		dst = append(dst, '}')
	}
	if r.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	return append(dst, '}')
}

func appendField(dst []byte, key, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendJSONString(dst, value)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, quoted and escaped as
// encoding/json does, for destinations that write their own JSON.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (including <, > and &, so that records are safe inside HTML) and
// replacing invalid UTF-8 with U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
