package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

func TestDescribedAddsHelpAndTypeBeforeEachFamily(t *testing.T) {
	set := metrics.NewSet()
	set.NewGauge(`opshub_probe_success{instance="web-1",probe_type="readiness"}`, func() float64 { return 1 })
	set.NewGauge(`opshub_probe_success{instance="web-2",probe_type="readiness"}`, func() float64 { return 0 })
	set.NewGauge(`other_thing{a="b"}`, func() float64 { return 3 })
	var buf bytes.Buffer
	Described(set, Family{Name: "opshub_probe_success", Help: "Whether the last probe passed.", Type: "gauge"}).WritePrometheus(&buf)
	want := `# HELP opshub_probe_success Whether the last probe passed.
# TYPE opshub_probe_success gauge
opshub_probe_success{instance="web-1",probe_type="readiness"} 1
opshub_probe_success{instance="web-2",probe_type="readiness"} 0
other_thing{a="b"} 3
`
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	buf.Reset()
	Described(metrics.NewSet(), Family{Name: "x", Help: "y", Type: "gauge"}).WritePrometheus(&buf)
	if strings.TrimSpace(buf.String()) != "" {
		t.Errorf("an empty set wrote %q", buf.String())
	}
}
