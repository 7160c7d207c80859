package crilog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// corpus is line-like text in which no two 16 KiB pieces are alike, so that
// pieces joined in the wrong order are noticed.
var corpus = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		fmt.Fprintf(&b, "%d,", i)
	}
	return b.String()
}()

// text returns n bytes of corpus; n is at most 64 KiB.
func text(n int) string { return corpus[:n] }

// chunks splits s into writes of size bytes.
func chunks(s string, size int) []string {
	var out []string
	for len(s) > size {
		out = append(out, s[:size])
		s = s[size:]
	}
	return append(out, s)
}

func TestStreamFormat(t *testing.T) {
	const ts = "2024-05-01T10:00:00.5Z"
	clock := sinktest.NewFakeClock(time.Date(2024, 5, 1, 10, 0, 0, 500_000_000, time.UTC))
	k16, k20, k32, k40 := text(16384), text(20480), text(32768), text(40960)

	tests := []struct {
		name   string
		stream string
		writes []string
		// closeStream closes the stream before the file; otherwise the
		// file's Close flushes it.
		closeStream bool
		want        []record
	}{
		{name: "short line", writes: []string{"hello\n"},
			want: []record{{Stdout, "F", "hello"}}},
		{name: "stderr line", stream: Stderr, writes: []string{"oops\n"},
			want: []record{{Stderr, "F", "oops"}}},
		{name: "empty line", writes: []string{"\n"},
			want: []record{{Stdout, "F", ""}}},
		{name: "several lines in one write", writes: []string{"a\nb\n\nc\n"},
			want: []record{{Stdout, "F", "a"}, {Stdout, "F", "b"}, {Stdout, "F", ""}, {Stdout, "F", "c"}}},
		{name: "CRLF ending is dropped as containerd does", writes: []string{"hello\r\n"},
			want: []record{{Stdout, "F", "hello"}}},
		{name: "CRLF split across writes", writes: []string{"hello\r", "\n"},
			want: []record{{Stdout, "F", "hello"}}},
		{name: "CR inside a line is content", writes: []string{"a\rb\n"},
			want: []record{{Stdout, "F", "a\rb"}}},
		{name: "CR at the end of a write, then more of the line", writes: []string{"a\r", "b\n"},
			want: []record{{Stdout, "F", "a\rb"}}},
		{name: "only CRLF is an empty line", writes: []string{"\r\n"},
			want: []record{{Stdout, "F", ""}}},
		{name: "invalid UTF-8 and NUL pass through", writes: []string{"\xff\x00\xfe ok\x00\n"},
			want: []record{{Stdout, "F", "\xff\x00\xfe ok\x00"}}},
		{name: "line of exactly 16 KiB", writes: []string{k16 + "\n"},
			want: []record{{Stdout, "F", k16}}},
		{name: "line of 16 KiB + 1", writes: []string{k16 + "x\n"},
			want: []record{{Stdout, "P", k16}, {Stdout, "F", "x"}}},
		{name: "line of 16 KiB with CRLF", writes: []string{k16 + "\r\n"},
			want: []record{{Stdout, "F", k16}}},
		{name: "line of 16 KiB, CR and LF in separate writes", writes: []string{k16, "\r", "\n"},
			want: []record{{Stdout, "F", k16}}},
		{name: "line of 16 KiB then CR then more", writes: []string{k16, "\r", "y\n"},
			want: []record{{Stdout, "P", k16}, {Stdout, "F", "\ry"}}},
		{name: "line of 32 KiB has no empty last piece", writes: []string{k32 + "\n"},
			want: []record{{Stdout, "P", k32[:16384]}, {Stdout, "F", k32[16384:]}}},
		{name: "line of 40 KiB", writes: []string{k40 + "\n"},
			want: []record{{Stdout, "P", k40[:16384]}, {Stdout, "P", k40[16384:32768]}, {Stdout, "F", k40[32768:]}}},
		{name: "line of 40 KiB in 1000-byte writes", writes: chunks(k40+"\n", 1000),
			want: []record{{Stdout, "P", k40[:16384]}, {Stdout, "P", k40[16384:32768]}, {Stdout, "F", k40[32768:]}}},
		{name: "lines written a byte at a time", writes: chunks("first line\nsecond\n", 1),
			want: []record{{Stdout, "F", "first line"}, {Stdout, "F", "second"}}},
		{name: "no final newline: P at file close as containerd does", writes: []string{"a\nno newline"},
			want: []record{{Stdout, "F", "a"}, {Stdout, "P", "no newline"}}},
		{name: "no final newline: P at stream close", writes: []string{"no newline"}, closeStream: true,
			want: []record{{Stdout, "P", "no newline"}}},
		{name: "no final newline, 20 KiB", writes: []string{k20},
			want: []record{{Stdout, "P", k20[:16384]}, {Stdout, "P", k20[16384:]}}},
		{name: "no final newline, trailing CR is content", writes: []string{"x\r"},
			want: []record{{Stdout, "P", "x\r"}}},
		{name: "nothing written, nothing logged", writes: nil, closeStream: true,
			want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stream == "" {
				tt.stream = Stdout
			}
			dir := t.TempDir()
			f, err := Open(dir, 0, Options{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			w := f.Stream(tt.stream)
			for _, chunk := range tt.writes {
				n, err := w.Write([]byte(chunk))
				if err != nil || n != len(chunk) {
					t.Fatalf("Write(%d bytes) = %d, %v", len(chunk), n, err)
				}
			}
			if tt.closeStream {
				if err := w.Close(); err != nil {
					t.Fatalf("stream Close: %v", err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			var want strings.Builder
			for _, r := range tt.want {
				fmt.Fprintf(&want, "%s %s %s %s\n", ts, r.stream, r.tag, r.content)
			}
			got := readLog(t, filepath.Join(dir, "0.log"))
			if string(got) != want.String() {
				t.Errorf("file:\n%q\nwant:\n%q", tail(got), tail([]byte(want.String())))
			}
			recs := parseRecords(t, "0.log", got)
			written := strings.ReplaceAll(strings.Join(tt.writes, ""), "\r\n", "\n")
			if back := reassemble(recs, tt.stream); back != written {
				t.Errorf("reassembled %q, written %q", tail([]byte(back)), tail([]byte(written)))
			}
		})
	}
}

func TestRecordTime(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"whole second has no fraction", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), "2024-05-01T10:00:00Z"},
		{"trailing zeros are trimmed", time.Date(2024, 5, 1, 10, 0, 0, 100_000_000, time.UTC), "2024-05-01T10:00:00.1Z"},
		{"microseconds", time.Date(2024, 5, 1, 10, 0, 0, 1_000, time.UTC), "2024-05-01T10:00:00.000001Z"},
		{"nanoseconds", time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC), "2024-05-01T10:00:00.123456789Z"},
		{"other zones are written in UTC", time.Date(2024, 5, 1, 10, 0, 0, 5, time.FixedZone("CEST", 2*3600)), "2024-05-01T08:00:00.000000005Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := Open(dir, 0, Options{Now: func() time.Time { return tt.now }})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Stream(Stdout).Write([]byte("x\n")); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := string(readLog(t, f.Path())), tt.want+" stdout F x\n"; got != want {
				t.Errorf("record %q, want %q", got, want)
			}
		})
	}
}

// randomOutput returns what a process might write to one stream: lines of
// many lengths, around the 16 KiB split too, some of them CRLF-terminated,
// and the same bytes cut into writes of random sizes. want is what a reader
// reassembles.
func randomOutput(r *rand.Rand, lines int) (writes [][]byte, want string) {
	lengths := []int{0, 1, 7, 100, 16383, 16384, 16385, 40000}
	var out, norm strings.Builder
	for i := range lines {
		n := lengths[r.IntN(len(lengths))]
		if r.IntN(2) == 0 {
			n = r.IntN(300)
		}
		line := fmt.Sprintf("%d:", i) + text(n)
		end := "\n"
		if r.IntN(8) == 0 {
			end = "\r\n"
		}
		out.WriteString(line + end)
		norm.WriteString(line + "\n")
	}
	s := out.String()
	for len(s) > 0 {
		n := min(1+r.IntN(8192), len(s))
		writes = append(writes, []byte(s[:n]))
		s = s[n:]
	}
	return writes, norm.String()
}

func TestStreamsWrittenConcurrently(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"one file", Options{}},
		{"rotating every 64 KiB", Options{MaxBytes: 64 << 10, MaxFiles: 10000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var rotationErrs []error
			tt.opts.OnError = func(err error) { rotationErrs = append(rotationErrs, err) }
			f, err := Open(dir, 0, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			var wg sync.WaitGroup
			for i, stream := range []string{Stdout, Stderr} {
				writes, norm := randomOutput(rand.New(rand.NewPCG(uint64(i), 1)), 300)
				want[stream] = norm
				w := f.Stream(stream)
				wg.Go(func() {
					for _, p := range writes {
						if _, err := w.Write(p); err != nil {
							t.Errorf("%s: %v", stream, err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if len(rotationErrs) > 0 {
				t.Fatalf("rotation errors: %v", rotationErrs)
			}
			recs := readRecords(t, dir, "0.log")
			for stream, w := range want {
				if got := reassemble(recs, stream); got != w {
					t.Errorf("%s: reassembled %d bytes, written %d; they differ", stream, len(got), len(w))
				}
			}
		})
	}
}

func TestWriteErrorIsReturned(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "0.log")); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.Stream(Stdout).Write([]byte("lost\n"))
	if !errors.Is(err, syscall.ENOSPC) || n != 0 {
		t.Fatalf("Write = %d, %v; want 0 and ENOSPC", n, err)
	}
	if !strings.Contains(err.Error(), f.Path()) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, errw := f.Stream(Stdout), f.Stream(Stderr)
	if err := errw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := errw.Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write to a closed stream: %v, want os.ErrClosed", err)
	}
	if _, err := out.Write([]byte("still open\n")); err != nil {
		t.Errorf("the other stream stopped too: %v", err)
	}
	for i := range 2 {
		if err := f.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
	if err := out.Close(); err != nil {
		t.Errorf("stream Close after the file's: %v", err)
	}
	if _, err := out.Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
	if recs := readRecords(t, dir, "0.log"); len(recs) != 1 || recs[0].content != "still open" {
		t.Errorf("records %v, want only the one written while open", recs)
	}
}

func TestStreamRejectsUnknownName(t *testing.T) {
	f, err := Open(t.TempDir(), 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer func() {
		if recover() == nil {
			t.Error("Stream(\"stdin\") did not panic")
		}
	}()
	f.Stream("stdin")
}
