package syslog

import (
	"strconv"
	"time"

	"github.com/opshub/opshub/model"
)

// Severities (RFC 5424 section 6.2.1) a record maps to.
const (
	severityError = 3
	severityInfo  = 6
)

// sdID names opshub's structured data element. 32473 is the enterprise
// number RFC 5612 sets aside for examples and private use.
const sdID = "opshub@32473"

// formatter renders records as syslog messages.
type formatter struct {
	facility int
	rfc3164  bool
	hostname string
	appName  string // overrides the service when set
}

func severity(stream string) int {
	if stream == "stderr" {
		return severityError
	}
	return severityInfo
}

// appendMessage appends one message, without framing.
func (f *formatter) appendMessage(b []byte, r *model.LogRecord) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(f.facility*8+severity(r.Stream)), 10)
	b = append(b, '>')
	app := f.appName
	if app == "" {
		app = r.Service
	}
	if f.rfc3164 {
		b = r.Time.UTC().AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = appendHeaderField(b, f.hostname, 255)
		b = append(b, ' ')
		b = appendHeaderField(b, app, 32)
		b = append(b, ':', ' ')
		return appendOneLine(b, r.Log)
	}
	b = append(b, '1', ' ')
	// RFC 5424 allows at most six digits of fractional seconds.
	b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, ' ')
	b = appendHeaderField(b, f.hostname, 255)
	b = append(b, ' ')
	b = appendHeaderField(b, app, 48)
	b = append(b, ' ', '-', ' ') // PROCID
	b = appendHeaderField(b, r.Stream, 32)
	b = append(b, ' ')
	b = appendStructuredData(b, r)
	if r.Log != "" {
		b = append(b, ' ')
		b = append(b, r.Log...)
	}
	return b
}

// appendHeaderField appends a header field: printable US-ASCII without
// spaces, at most max bytes, "-" when empty (RFC 5424 section 6).
func appendHeaderField(b []byte, s string, max int) []byte {
	n := 0
	for i := 0; i < len(s) && n < max; i++ {
		c := s[i]
		if c > 32 && c < 127 {
			b = append(b, c)
			n++
		}
	}
	if n == 0 {
		b = append(b, '-')
	}
	return b
}

// appendStructuredData appends the opshub element with the record's names.
func appendStructuredData(b []byte, r *model.LogRecord) []byte {
	start := len(b)
	b = append(b, '[')
	b = append(b, sdID...)
	for _, p := range [...]struct{ name, value string }{
		{"project", r.Project}, {"service", r.Service}, {"instance", r.Instance}, {"container", r.Container},
	} {
		if p.value == "" {
			continue
		}
		b = append(b, ' ')
		b = append(b, p.name...)
		b = append(b, '=', '"')
		b = appendParamValue(b, p.value)
		b = append(b, '"')
	}
	if len(b) == start+1+len(sdID) {
		return append(b[:start], '-')
	}
	return append(b, ']')
}

// appendParamValue escapes '"', '\' and ']' as RFC 5424 section 6.3.3 asks.
func appendParamValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', ']':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendOneLine appends s with line breaks turned into spaces, for the
// newline-framed RFC 3164 format.
func appendOneLine(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}
