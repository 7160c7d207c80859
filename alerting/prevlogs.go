package alerting

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opshub/opshub/model"
)

// lastLinesKept is how many lines of a crashed container a crash event carries.
const lastLinesKept = 20

// tailBytes bounds how much of a log file is read for its last lines.
const tailBytes = 64 << 10

// LastLines reads the last n lines a container's run wrote, from the CRI log
// files the platform lays out under podsDir
// (<project>_<instance>_<uid>/<container>/<run>.log). It parses only what it
// needs: the content after the time, stream and tag fields, with partial
// records joined. It returns nil when the file is not there.
func LastLines(podsDir string, ref model.Ref, run, n int) []string {
	if podsDir == "" || run < 0 {
		return nil
	}
	container := ref.Container
	if container == "" {
		container = ref.Service
	}
	pattern := filepath.Join(podsDir, globEscape(ref.Project)+"_"+globEscape(ref.Instance)+"_*", globEscape(container), strconv.Itoa(run)+".log")
	matches, _ := filepath.Glob(pattern)
	if len(matches) == 0 {
		return nil
	}
	f, err := os.Open(matches[len(matches)-1])
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	start := max(0, st.Size()-tailBytes)
	buf, err := io.ReadAll(io.NewSectionReader(f, start, st.Size()-start))
	if err != nil {
		return nil
	}
	if start > 0 {
		// Drop the record cut in two by where the read began.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return parseCRITail(buf, n)
}

// parseCRITail returns the content of the last n full lines in CRI records.
func parseCRITail(buf []byte, n int) []string {
	var lines []string
	var partial []byte
	for len(buf) > 0 {
		rec := buf
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			rec, buf = buf[:i], buf[i+1:]
		} else {
			buf = nil
		}
		fields := bytes.SplitN(rec, []byte{' '}, 4)
		if len(fields) < 3 {
			continue
		}
		var content []byte
		if len(fields) == 4 {
			content = fields[3]
		}
		partial = append(partial, content...)
		if string(fields[2]) == "P" {
			continue
		}
		lines = append(lines, string(partial))
		partial = partial[:0]
	}
	if len(partial) > 0 {
		lines = append(lines, string(partial))
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// globEscape keeps names with glob characters from matching other files.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
