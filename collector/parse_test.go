package collector

import (
	"strings"
	"testing"
	"time"
)

func TestParseCRI(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name    string
		line    string
		ok      bool
		time    time.Time
		stream  string
		partial bool
		content string
	}{
		{"full line", "2026-11-24T10:00:00.123456789Z stdout F GET / 200", true, ts, "stdout", false, "GET / 200"},
		{"partial stderr", "2026-11-24T10:00:00.123456789Z stderr P part", true, ts, "stderr", true, "part"},
		{"empty content", "2026-11-24T10:00:00.123456789Z stdout F ", true, ts, "stdout", false, ""},
		{"no content field", "2026-11-24T10:00:00.123456789Z stdout F", true, ts, "stdout", false, ""},
		{"spaces kept in content", "2026-11-24T10:00:00.123456789Z stdout F  a  b ", true, ts, "stdout", false, " a  b "},
		{"tag with flags", "2026-11-24T10:00:00.123456789Z stdout F:x hi", true, ts, "stdout", false, "hi"},
		{"offset time", "2026-11-24T11:00:00.123456789+01:00 stdout F x", true, ts, "stdout", false, "x"},
		{"no fraction", "2026-11-24T10:00:00Z stdout F x", true, ts.Truncate(time.Second), "stdout", false, "x"},
		{"broken time", "2026-13-24T10:00:00Z stdout F x", false, time.Time{}, "", false, ""},
		{"garbage time", "yesterday stdout F x", false, time.Time{}, "", false, ""},
		{"31 February", "2026-02-31T10:00:00Z stdout F x", false, time.Time{}, "", false, ""},
		{"unknown stream", "2026-11-24T10:00:00Z stdlog F x", false, time.Time{}, "", false, ""},
		{"no stream", "2026-11-24T10:00:00Z", false, time.Time{}, "", false, ""},
		{"raw text", "hello world", false, time.Time{}, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := parseCRI([]byte(tt.line), nil)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if !r.time.Equal(tt.time) || r.stream != tt.stream || r.partial != tt.partial || string(r.content) != tt.content {
				t.Errorf("got (%v, %q, %v, %q), want (%v, %q, %v, %q)", r.time, r.stream, r.partial, r.content, tt.time, tt.stream, tt.partial, tt.content)
			}
		})
	}
}

// TestTimeCache: the cached parse gives what the full parser gives, for a
// sequence of times in which the minute, the zone and the form change.
func TestTimeCache(t *testing.T) {
	stamps := []string{
		"2026-11-24T10:00:00.123456789Z",
		"2026-11-24T10:00:01.5Z",
		"2026-11-24T10:00:59Z",
		"2026-11-24T10:00:60Z", // a leap second, normalised
		"2026-11-24T10:00:07.000000001Z",
		"2026-11-24T10:00:07.1234567891Z", // ten digits of fraction: invalid
		"2026-11-24T10:00:07.Z",           // no digits: invalid
		"2026-11-24T10:00:7a.1Z",          // invalid seconds
		"2026-11-24T10:00:61Z",            // invalid seconds
		"2026-11-24T10:00:08.12x4Z",       // invalid fraction
		"2026-11-24T10:00:08.5+01:00",
		"2026-11-24T10:01:00.25Z",
		"2026-11-24T10:00:30Z", // back to the earlier minute
		"2026-11-24T10:00:30z",
		"2026-11-24t10:00:30Z",
		"2026-12-31T23:59:59.999999999Z",
		"2027-01-01T00:00:00Z",
	}
	var tc timeCache
	for _, s := range stamps {
		want, wantOK := parseTimestamp([]byte(s))
		got, ok := tc.parse([]byte(s))
		if ok != wantOK || got != want {
			t.Errorf("%s: cached parse gave (%v, %v), full parse (%v, %v)", s, got, ok, want, wantOK)
		}
	}
}

func TestParseDockerJSON(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 5000, time.UTC)
	tests := []struct {
		name    string
		line    string
		ok      bool
		stream  string
		partial bool
		content string
	}{
		{"full line", `{"log":"GET / 200\n","stream":"stdout","time":"2026-11-24T10:00:00.000005Z"}`, true, "stdout", false, "GET / 200"},
		{"partial", `{"log":"part","stream":"stderr","time":"2026-11-24T10:00:00.000005Z"}`, true, "stderr", true, "part"},
		{"escapes", `{"log":"a\"b\\c\tq\u00e9\ud83d\ude00\n","stream":"stdout","time":"2026-11-24T10:00:00.000005Z"}`, true, "stdout", false, "a\"b\\c\tqé😀"},
		{"extra keys", `{"attrs":{"k":"v,}"},"log":"x\n","n":[1,2],"stream":"stdout","time":"2026-11-24T10:00:00.000005Z"}`, true, "stdout", false, "x"},
		{"missing time", `{"log":"x\n","stream":"stdout"}`, false, "", false, ""},
		{"bad escape", `{"log":"\x\n","stream":"stdout","time":"2026-11-24T10:00:00.000005Z"}`, false, "", false, ""},
		{"cut short", `{"log":"x\n","stream":"std`, false, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, ok := parseDockerJSON([]byte(tt.line), nil, nil)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if !r.time.Equal(ts) || r.stream != tt.stream || r.partial != tt.partial || string(r.content) != tt.content {
				t.Errorf("got (%v, %q, %v, %q), want (%q, %v, %q)", r.time, r.stream, r.partial, r.content, tt.stream, tt.partial, tt.content)
			}
		})
	}
}

// decodeAll runs lines through a decoder and returns the texts it emits.
func decodeAll(maxLine int, physical []string) ([]string, decoderStats) {
	var out []string
	d := newDecoder(maxLine, func() time.Time { return time.Unix(0, 0) }, func(l *line) {
		var text strings.Builder
		writeText(&text, l)
		out = append(out, l.stream+" "+text.String())
	})
	for _, p := range physical {
		d.feed([]byte(p), false)
	}
	d.flush()
	return out, d.stats
}

func TestDecoder(t *testing.T) {
	const ts = "2026-11-24T10:00:00Z "
	tests := []struct {
		name    string
		maxLine int
		lines   []string
		want    []string
		stats   decoderStats
	}{
		{"partials merged", 100, []string{ts + "stdout P ab", ts + "stdout P cd", ts + "stdout F ef"}, []string{"stdout abcdef"}, decoderStats{}},
		{"merge cut at maxLine", 4, []string{ts + "stdout P ab", ts + "stdout P cd", ts + "stdout F ef"}, []string{"stdout abcd [truncated 2 bytes]"}, decoderStats{truncated: 1}},
		{"long full line cut", 3, []string{ts + "stdout F abcdef"}, []string{"stdout abc [truncated 3 bytes]"}, decoderStats{truncated: 1}},
		{"trailing partial flushed at end", 100, []string{ts + "stdout F a", ts + "stderr P no newline"}, []string{"stdout a", "stderr no newline"}, decoderStats{}},
		{"other stream ends a partial", 100, []string{ts + "stdout P ab", ts + "stderr F x", ts + "stdout F c"}, []string{"stdout ab", "stderr x", "stdout c"}, decoderStats{}},
		{"malformed passed on raw", 100, []string{ts + "stdout F a", "not a record", "2026-99-01T00:00:00Z stdout F broken time", ts + "stdout F b"},
			[]string{"stdout a", "stdout not a record", "stdout 2026-99-01T00:00:00Z stdout F broken time", "stdout b"}, decoderStats{parseErrors: 2}},
		{"invalid utf-8 replaced", 100, []string{ts + "stdout F a\xffb"}, []string{"stdout a\uFFFDb"}, decoderStats{}},
		{"docker json detected", 100, []string{`{"log":"p1","stream":"stdout","time":"2026-11-24T10:00:00Z"}`, `{"log":"p2\n","stream":"stdout","time":"2026-11-24T10:00:00Z"}`}, []string{"stdout p1p2"}, decoderStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stats := decodeAll(tt.maxLine, tt.lines)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: got %q, want %q", i, got[i], tt.want[i])
				}
			}
			if stats != tt.stats {
				t.Errorf("stats %+v, want %+v", stats, tt.stats)
			}
		})
	}
}

// TestBatchHint: the text buffer of a batch is sized so that it neither
// grows (a copy) nor keeps much unused room until the acknowledgement.
func TestBatchHint(t *testing.T) {
	const maxBytes, maxLines = 1 << 20, 8192
	tests := []struct {
		name        string
		waiting     int64
		textPerLine int64
		wantMin     int
		wantMax     int
	}{
		{"little waiting", 3000, 0, 3000, 3000},
		{"a backlog, line length unknown: a full batch and its last line", 1 << 40, 0, maxBytes + 1, maxBytes + 8<<10},
		{"a backlog of long lines", 1 << 40, 1000, maxBytes + 2000, maxBytes + 2100},
		{"a backlog of short lines ends at maxLines", 1 << 40, 100, maxLines * 100, maxLines * 108},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := batchHint(tt.waiting, maxBytes, maxLines, tt.textPerLine); got < tt.wantMin || got > tt.wantMax {
				t.Errorf("batchHint = %d, want %d-%d", got, tt.wantMin, tt.wantMax)
			}
		})
	}
}
