package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Family names one metric family and says what it is, for the text format's
// # HELP and # TYPE lines.
type Family struct {
	Name string
	Help string
	Type string // gauge, counter, …
}

// Described wraps a MetricWriter whose output has no # HELP and # TYPE lines
// (a VictoriaMetrics set written without global metadata) and adds them
// before the first series of each described family, so that /metrics passes
// `promtool check metrics`. Families not described pass through unchanged.
func Described(w MetricWriter, families ...Family) MetricWriter {
	byName := make(map[string]Family, len(families))
	for _, f := range families {
		byName[f.Name] = f
	}
	return described{w: w, families: byName}
}

type described struct {
	w        MetricWriter
	families map[string]Family
}

func (d described) WritePrometheus(out io.Writer) {
	var buf bytes.Buffer
	d.w.WritePrometheus(&buf)
	seen := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		if f, ok := d.families[name]; ok && !seen[name] && !strings.HasPrefix(line, "#") {
			seen[name] = true
			fmt.Fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f.Name, f.Help, f.Name, f.Type)
		}
		fmt.Fprintln(out, line)
	}
}
