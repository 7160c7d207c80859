package crilog

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// record is one parsed CRI log line.
type record struct {
	stream  string
	tag     string
	content string
}

// parseRecords parses a CRI log file as a reader such as the collector or
// `kubectl logs` would, and fails the test on anything that is not a sequence
// of whole records "<ts> (stdout|stderr) (P|F) <content>\n" with a canonical
// UTC RFC3339Nano time and at most 16 KiB of content.
func parseRecords(t testing.TB, name string, data []byte) []record {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s: does not end with a newline, last record cut: %q", name, tail(data))
	}
	var recs []record
	for n, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		line = line[:len(line)-1]
		fields := bytes.SplitN(line, []byte(" "), 4)
		if len(fields) != 4 {
			t.Fatalf("%s:%d: not a CRI record: %q", name, n+1, tail(line))
		}
		ts, stream, tag, content := string(fields[0]), string(fields[1]), string(fields[2]), fields[3]
		parsed, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || parsed.UTC().Format(time.RFC3339Nano) != ts {
			t.Fatalf("%s:%d: time %q is not canonical UTC RFC3339Nano (err %v)", name, n+1, ts, err)
		}
		if stream != Stdout && stream != Stderr {
			t.Fatalf("%s:%d: stream %q", name, n+1, stream)
		}
		if tag != "P" && tag != "F" {
			t.Fatalf("%s:%d: tag %q", name, n+1, tag)
		}
		if len(content) > maxLineBytes {
			t.Fatalf("%s:%d: content is %d bytes, more than %d", name, n+1, len(content), maxLineBytes)
		}
		recs = append(recs, record{stream: stream, tag: tag, content: string(content)})
	}
	return recs
}

// reassemble returns one stream's output as a reader rebuilds it: the P
// pieces of a line joined, "\n" after each F.
func reassemble(recs []record, stream string) string {
	var b strings.Builder
	for _, r := range recs {
		if r.stream != stream {
			continue
		}
		b.WriteString(r.content)
		if r.tag == "F" {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// logFiles returns the names of a run's files in dir, oldest first: the
// rotated ones sorted by name, then the current one, as the kubelet lists them.
func logFiles(t testing.TB, dir, current string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rotated []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), current+".") {
			rotated = append(rotated, e.Name())
		}
	}
	slices.Sort(rotated)
	return append(rotated, current)
}

// readRecords parses every file of a run, oldest first, gunzipping the
// compressed ones.
func readRecords(t testing.TB, dir, current string) []record {
	t.Helper()
	var all []record
	for _, name := range logFiles(t, dir, current) {
		all = append(all, parseRecords(t, name, readLog(t, filepath.Join(dir, name)))...)
	}
	return all
}

// readLog returns a log file's bytes, gunzipped if its name ends in .gz.
func readLog(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	data, err = io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

func tail(b []byte) []byte {
	if len(b) > 80 {
		return b[len(b)-80:]
	}
	return b
}
