package datadog

import (
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// BenchmarkEncode measures what Deliver does before the request: each
// record to its intake entry, the entries into payloads within the limits,
// and gzip; throughput counts the log lines' bytes.
func BenchmarkEncode(b *testing.B) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("apiKey: k\nhostname: node-1\ntags: [env:prod]"), &doc); err != nil {
		b.Fatal(err)
	}
	dest, err := New(sinks.Spec{Name: "dd", Type: "datadog", Settings: plugintest.Decode(b, Plugin.Settings(), doc.Content[0])})
	if err != nil {
		b.Fatal(err)
	}
	d := dest.(*Destination)
	sinktest.BenchEncoding(b, func(recs []model.LogRecord) (int, error) {
		out := 0
		for _, p := range split(d.encodeEntries(recs)) {
			body, err := d.gzip(p.body)
			if err != nil {
				return 0, err
			}
			out += len(body)
		}
		return out, nil
	})
}
