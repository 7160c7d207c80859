package collector

import (
	"bytes"
	"time"
)

// Stream names as they appear in records.
const (
	streamStdout = "stdout"
	streamStderr = "stderr"
)

// criRecord is one parsed CRI record. Its byte slices point into the line it
// was parsed from and are only valid until the next read.
type criRecord struct {
	time    time.Time
	stream  string
	partial bool
	content []byte
}

// parseCRI parses "<RFC3339Nano time> <stream> <P|F> <content>" without
// allocating; tc (may be nil) remembers the last minute seen. A record with
// no tag field (written by old runtimes) counts as a full line. It reports
// false when the line is not a CRI record.
func parseCRI(line []byte, tc *timeCache) (criRecord, bool) {
	var r criRecord
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return r, false
	}
	t, ok := tc.parse(line[:sp])
	if !ok {
		return r, false
	}
	r.time = t
	rest := line[sp+1:]
	switch {
	case bytes.HasPrefix(rest, []byte("stdout")):
		r.stream = streamStdout
	case bytes.HasPrefix(rest, []byte("stderr")):
		r.stream = streamStderr
	default:
		return r, false
	}
	rest = rest[6:]
	if len(rest) == 0 {
		return r, true
	}
	if rest[0] != ' ' {
		return r, false
	}
	rest = rest[1:]
	// The tag is one or more ':'-separated flags; the first says P or F.
	if len(rest) >= 1 && (rest[0] == 'P' || rest[0] == 'F') && (len(rest) == 1 || rest[1] == ' ' || rest[1] == ':') {
		r.partial = rest[0] == 'P'
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			return r, true
		}
		r.content = rest[end+1:]
		return r, true
	}
	r.content = rest
	return r, true
}

// parseTimestamp parses an RFC 3339 time with optional fraction and a "Z" or
// ±hh:mm offset, without allocating (time.Parse allocates for offsets and
// needs a string).
func parseTimestamp(b []byte) (time.Time, bool) {
	// 2006-01-02T15:04:05Z is the shortest form: 20 bytes.
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100000000
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 || i > 10 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February and the like
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// timeCache speeds up parseTimestamp for the records of one file, which
// nearly all share their minute: the date and the time of day up to the
// minute are compared as bytes, and only the seconds and the fraction are
// parsed. Anything else (another minute, a zone offset) takes the full
// parser, which refills the cache.
type timeCache struct {
	minute [17]byte // "2006-01-02T15:04:"
	base   int64    // Unix seconds at the start of that minute
	ok     bool
}

// parse is parseTimestamp with the cache; a nil cache parses in full.
func (c *timeCache) parse(b []byte) (time.Time, bool) {
	if c == nil {
		return parseTimestamp(b)
	}
	// The fast form: the cached minute, two digits of seconds, an optional
	// fraction of 1-9 digits, and "Z".
	n := len(b)
	if c.ok && n >= 20 && b[n-1] == 'Z' && string(b[:17]) == string(c.minute[:]) {
		s0, s1 := b[17]-'0', b[18]-'0'
		if s0 <= 5 && s1 <= 9 {
			nsec, ok := 0, true
			if n > 20 {
				frac := b[19 : n-1]
				if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
					ok = false
				} else {
					scale := 100000000
					for _, d := range frac[1:] {
						d -= '0'
						if d > 9 {
							ok = false
							break
						}
						nsec += int(d) * scale
						scale /= 10
					}
				}
			}
			if ok {
				return time.Unix(c.base+int64(s0)*10+int64(s1), int64(nsec)).UTC(), true
			}
		}
	}
	t, ok := parseTimestamp(b)
	if ok && n >= 20 && b[n-1] == 'Z' {
		sec := int64(b[17]-'0')*10 + int64(b[18]-'0')
		copy(c.minute[:], b[:17])
		c.base, c.ok = t.Unix()-sec, true
	}
	return t, ok
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
