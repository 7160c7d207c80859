package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets of the log file parsers. `make fuzz` runs each for a
// while; `go test` runs their corpora (testdata/fuzz) as tests.

// FuzzParseTimestamp: the hand-written RFC 3339 parser agrees with
// time.Parse on every stamp both accept, and the minute cache agrees with
// the full parser whatever stamp came before.
func FuzzParseTimestamp(f *testing.F) {
	f.Add([]byte("2026-11-24T10:00:00.123456789Z"), []byte("2026-11-24T10:00:59Z"))
	f.Add([]byte("2026-11-24T11:00:00.5+01:00"), []byte("2026-11-24T10:00:00.5Z"))
	f.Add([]byte("2026-02-31T10:00:00Z"), []byte("2026-11-24T10:00:60Z"))
	f.Fuzz(func(t *testing.T, prev, stamp []byte) {
		got, ok := parseTimestamp(stamp)
		if std, err := time.Parse(time.RFC3339Nano, string(stamp)); err == nil && ok && !got.Equal(std) {
			t.Fatalf("%q: parsed %v, time.Parse gives %v", stamp, got, std)
		}
		if ok && got.Location() != time.UTC {
			t.Fatalf("%q: time in %v, want UTC", stamp, got.Location())
		}
		var tc timeCache
		tc.parse(prev)
		cached, cok := tc.parse(stamp)
		if cok != ok || !cached.Equal(got) {
			t.Fatalf("after %q, cached parse of %q gave (%v, %v), full parse (%v, %v)", prev, stamp, cached, cok, got, ok)
		}
	})
}

// FuzzParseDockerJSON: on a record that encoding/json reads as an object
// with a string "log", a known "stream" and a valid "time", the parser
// agrees with it; on anything else it may refuse but never panics.
func FuzzParseDockerJSON(f *testing.F) {
	f.Add([]byte(`{"log":"GET / 200\n","stream":"stdout","time":"2026-11-24T10:00:00.123Z"}`))
	f.Add([]byte(`{"log":"caf\u00e9 \ud83d\ude00 \"q\" \\ /\n","stream":"stderr","attrs":{"a":[1,{"b":"}"}]},"time":"2026-11-24T10:00:00Z"}`))
	f.Add([]byte(`{"log":"part","stream":"stdout","time":"2026-11-24T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var tc timeCache
		r, _, ok := parseDockerJSON(line, nil, &tc)
		if ok && (r.stream != streamStdout && r.stream != streamStderr || r.time.IsZero()) {
			t.Fatalf("%q: accepted with stream %q, time %v", line, r.stream, r.time)
		}
		want, wantOK := referenceDocker(line)
		if !wantOK || !utf8.Valid(line) {
			// encoding/json replaces invalid UTF-8; the parser keeps the
			// bytes (the decoder replaces them later, once per line).
			return
		}
		if !ok {
			t.Fatalf("%q: refused a record encoding/json reads as %+v", line, want)
		}
		if r.stream != want.stream || !r.time.Equal(want.time) || r.partial != want.partial || string(r.content) != string(want.content) {
			t.Fatalf("%q: parsed (%q, %v, %v, %q), encoding/json gives (%q, %v, %v, %q)",
				line, r.stream, r.time, r.partial, r.content, want.stream, want.time, want.partial, want.content)
		}
	})
}

// referenceDocker reads a Docker json-file record with encoding/json.
func referenceDocker(line []byte) (dockerRecord, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return dockerRecord{}, false
	}
	var r dockerRecord
	var log, stream, ts string
	for key, dst := range map[string]*string{"log": &log, "stream": &stream, "time": &ts} {
		raw, found := fields[key]
		if !found || json.Unmarshal(raw, dst) != nil || bytes.Equal(raw, []byte("null")) {
			return r, false
		}
	}
	if stream != streamStdout && stream != streamStderr {
		return r, false
	}
	t, ok := parseTimestamp([]byte(ts))
	if !ok {
		return r, false
	}
	r.time, r.stream = t, stream
	if strings.HasSuffix(log, "\n") {
		r.content = []byte(strings.TrimSuffix(log, "\n"))
	} else {
		r.content, r.partial = []byte(log), true
	}
	return r, true
}

// FuzzDecoder feeds arbitrary files to the decoder: no emitted line is
// longer than the limit, and a file read in pieces (a physical line longer
// than the reader's buffer) decodes as when read whole.
func FuzzDecoder(f *testing.F) {
	const ts = "2026-11-24T10:00:00Z "
	f.Add([]byte(ts+"stdout P ab\n"+ts+"stdout P cd\n"+ts+"stdout F ef\n"+ts+"stderr F x\nnot a record\n"), uint8(3))
	f.Add([]byte(`{"log":"p1","stream":"stdout","time":"2026-11-24T10:00:00Z"}`+"\n"+`{"log":"p2\n","stream":"stdout","time":"2026-11-24T10:00:00Z"}`), uint8(7))
	f.Fuzz(func(t *testing.T, file []byte, piece uint8) {
		const maxLine = 32
		whole := decodeFile(t, maxLine, file, 0)
		pieces := decodeFile(t, maxLine, file, int(piece)%64+1)
		if len(whole) != len(pieces) {
			t.Fatalf("read whole: %q\nread in pieces of %d: %q", whole, int(piece)%64+1, pieces)
		}
		for i := range whole {
			if whole[i] != pieces[i] {
				t.Fatalf("line %d: read whole %q, in pieces of %d %q", i, whole[i], int(piece)%64+1, pieces[i])
			}
		}
	})
}

// decodeFile decodes file's lines (each in pieces of piece bytes, or whole
// when piece is 0) and returns the emitted lines as text.
func decodeFile(t *testing.T, maxLine int, file []byte, piece int) []string {
	var out []string
	d := newDecoder(maxLine, func() time.Time { return time.Unix(0, 0) }, func(l *line) {
		if len(l.content) > maxLine {
			t.Fatalf("emitted %d bytes, more than the limit %d", len(l.content), maxLine)
		}
		if l.stream != streamStdout && l.stream != streamStderr {
			t.Fatalf("emitted stream %q", l.stream)
		}
		var text strings.Builder
		writeText(&text, l)
		if !utf8.ValidString(text.String()) {
			t.Fatalf("emitted invalid UTF-8 %q", text.String())
		}
		out = append(out, fmt.Sprintf("%s %s %v", l.time.Format(time.RFC3339Nano), l.stream, text.String()))
	})
	for _, phys := range bytes.Split(file, []byte("\n")) {
		// A physical line longer than what the decoder keeps of one is cut
		// when read in pieces only: skip the comparison for it.
		p := piece
		if len(phys) > 2*maxLine+256 {
			p = 0
		}
		if p == 0 || len(phys) <= p {
			d.feed(phys, false)
			continue
		}
		for i := 0; i < len(phys); i += p {
			end := min(i+p, len(phys))
			d.feed(phys[i:end], end < len(phys))
		}
	}
	d.flush()
	return out
}

// FuzzPartialMerge writes one logical line as CRI and as Docker partial
// records, split where the fuzzer says, and checks that the decoder puts
// it back together, cut at the limit with the cut counted.
func FuzzPartialMerge(f *testing.F) {
	f.Add([]byte("GET /index.html 200 1532 bytes in 3 ms"), []byte{4, 9, 1}, uint8(16))
	f.Add([]byte("caf\xc3\xa9 \xe2\x82\xac \xff"), []byte{4}, uint8(64))
	f.Fuzz(func(t *testing.T, content, splits []byte, maxLine uint8) {
		content = bytes.ReplaceAll(content, []byte("\n"), nil)
		limit := int(maxLine)%80 + 1
		var parts [][]byte
		rest := content
		for _, s := range splits {
			n := min(int(s)%16, len(rest))
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		parts = append(parts, rest)

		const ts = "2026-11-24T10:00:00.5Z"
		var cri, docker, want []byte
		for i, p := range parts {
			tag, end := "P", ""
			if i == len(parts)-1 {
				tag, end = "F", "\n"
			}
			cri = fmt.Appendf(cri, "%s stderr %s %s\n", ts, tag, p)
			log, _ := json.Marshal(string(p) + end)
			docker = fmt.Appendf(docker, `{"log":%s,"stream":"stderr","time":"%s"}`+"\n", log, ts)
			var back string
			_ = json.Unmarshal(log, &back)
			want = append(want, strings.TrimSuffix(back, "\n")...)
		}
		check := func(format string, file, content []byte) {
			var got []*line
			d := newDecoder(limit, time.Now, func(l *line) {
				c := *l
				c.content = bytes.Clone(l.content)
				got = append(got, &c)
			})
			for _, phys := range bytes.Split(bytes.TrimSuffix(file, []byte("\n")), []byte("\n")) {
				d.feed(phys, false)
			}
			d.flush()
			if len(got) != 1 {
				t.Fatalf("%s: %d lines from one logical line %q", format, len(got), content)
			}
			l := got[0]
			keep := min(len(content), limit)
			if l.stream != streamStderr || string(l.content) != string(content[:keep]) || l.dropped != len(content)-keep || l.malformed {
				t.Fatalf("%s: got %+v (content %q), want %q cut to %d", format, l, l.content, content, limit)
			}
		}
		check("cri", cri, content)
		check("docker", docker, want)
	})
}
