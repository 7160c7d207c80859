package collector

import (
	"bytes"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// dockerRecord is one parsed Docker json-file record. content points into
// the scratch buffer given to parseDockerJSON.
type dockerRecord struct {
	time    time.Time
	stream  string
	partial bool
	content []byte
}

// parseDockerJSON parses a Docker json-file record,
//
//	{"log":"GET / 200\n","stream":"stdout","time":"2026-11-24T10:00:00.123Z"}
//
// unescaping "log" into scratch (returned grown, for reuse). Docker ends a
// complete line's "log" with "\n" and writes a longer line as pieces without
// it, so a "log" without the newline is a partial line. Unknown keys are
// skipped. tc (may be nil) speeds up the time. It reports false when the
// line is not such a record.
func parseDockerJSON(line, scratch []byte, tc *timeCache) (dockerRecord, []byte, bool) {
	var r dockerRecord
	p := skipSpace(line)
	if len(p) == 0 || p[0] != '{' {
		return r, scratch, false
	}
	p = skipSpace(p[1:])
	var haveLog, haveStream bool
	for len(p) > 0 && p[0] != '}' {
		key, rest, ok := rawString(p)
		if !ok {
			return r, scratch, false
		}
		p = skipSpace(rest)
		if len(p) == 0 || p[0] != ':' {
			return r, scratch, false
		}
		p = skipSpace(p[1:])
		switch string(key) { // no allocation: the compiler compares in place
		case "log":
			raw, rest, ok := rawString(p)
			if !ok {
				return r, scratch, false
			}
			scratch, ok = unescape(scratch[:0], raw)
			if !ok {
				return r, scratch, false
			}
			haveLog, p = true, rest
		case "stream":
			raw, rest, ok := rawString(p)
			if !ok {
				return r, scratch, false
			}
			switch string(raw) {
			case streamStdout:
				r.stream = streamStdout
			case streamStderr:
				r.stream = streamStderr
			default:
				return r, scratch, false
			}
			haveStream, p = true, rest
		case "time":
			raw, rest, ok := rawString(p)
			if !ok {
				return r, scratch, false
			}
			if r.time, ok = tc.parse(raw); !ok {
				return r, scratch, false
			}
			p = rest
		default:
			rest, ok := skipValue(p)
			if !ok {
				return r, scratch, false
			}
			p = rest
		}
		p = skipSpace(p)
		if len(p) > 0 && p[0] == ',' {
			p = skipSpace(p[1:])
		}
	}
	if len(p) == 0 || !haveLog || !haveStream || r.time.IsZero() {
		return r, scratch, false
	}
	r.content = scratch
	if n := len(r.content); n > 0 && r.content[n-1] == '\n' {
		r.content = r.content[:n-1]
	} else {
		r.partial = true
	}
	return r, scratch, true
}

func skipSpace(p []byte) []byte {
	for len(p) > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n') {
		p = p[1:]
	}
	return p
}

// rawString returns the still-escaped body of the JSON string p starts with.
func rawString(p []byte) (body, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return p[1:i], p[i+1:], true
		}
	}
	return nil, nil, false
}

// skipValue skips one JSON value that is not needed.
func skipValue(p []byte) ([]byte, bool) {
	if len(p) == 0 {
		return nil, false
	}
	if p[0] == '"' {
		_, rest, ok := rawString(p)
		return rest, ok
	}
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '"':
			_, rest, ok := rawString(p[i:])
			if !ok {
				return nil, false
			}
			i = len(p) - len(rest) - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return p[i:], true
			}
			depth--
			if depth == 0 {
				return p[i+1:], true
			}
		case ',':
			if depth == 0 {
				return p[i:], true
			}
		}
	}
	return nil, false
}

// unescape appends the JSON string body raw, unescaped, to dst.
func unescape(dst, raw []byte) ([]byte, bool) {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...), true
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		if len(raw) < 2 {
			return dst, false
		}
		switch c := raw[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hexRune(raw[2:])
			if !ok {
				return dst, false
			}
			if utf16.IsSurrogate(r) {
				hi := r
				r = utf8.RuneError
				if len(raw) >= 12 && raw[6] == '\\' && raw[7] == 'u' {
					if r2, ok := hexRune(raw[8:]); ok {
						if dec := utf16.DecodeRune(hi, r2); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							raw = raw[12:]
							continue
						}
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
			raw = raw[6:]
			continue
		default:
			return dst, false
		}
		raw = raw[2:]
	}
	return dst, true
}

// hexRune reads four hex digits.
func hexRune(p []byte) (rune, bool) {
	if len(p) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
