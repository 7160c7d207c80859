package loki

import (
	"bytes"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestEncodeWritesWhatPushMarshals: the hand-written protobuf is the one
// Loki's own types write for the same request, byte for byte, for records
// that share a file's labels, come out of order, have no time, no line,
// labels of their own, or a truncation mark; with raw and JSON lines.
func TestEncodeWritesWhatPushMarshals(t *testing.T) {
	shared := model.Labels{"team": "core", "app.kubernetes.io/name": "web"}
	recs := []model.LogRecord{
		record(3, "web", "stdout", "third"),
		record(1, "web", "stdout", "first"),
		record(2, "web", "stderr", "oops"),
		{Ref: model.Ref{Project: "demo", Service: "web", Container: "web"}, Stream: "stdout", Log: "no time"},
		{Time: t0, Ref: model.Ref{Project: "demo", Service: "api", Instance: "api-1", Container: "api"}, Stream: "stdout", Labels: shared},
		{Time: t0.Add(time.Nanosecond), Ref: model.Ref{Project: "demo", Service: "api", Instance: "api-1", Container: "api"}, Stream: "stdout", Log: "next", Labels: shared, Truncated: true},
		{Time: t0.Add(-time.Hour), Ref: model.Ref{Project: "demo", Service: "api", Instance: "api-2", Container: "api"}, Stream: "stdout", Log: "older, other instance", Labels: shared},
		{Time: t0, Log: "no labels at all"},
	}
	batch, _ := sinktest.AccessLogBatch()
	for _, jsonLines := range []bool{false, true} {
		for name, records := range map[string][]model.LogRecord{"mixed": recs, "access log": batch} {
			enc := newEncoder(Config{Labels: map[string]string{"cluster": "eu1"}, LabelKeys: []string{"team"}}, jsonLines)
			for range 2 { // the second time with the buffers of the first
				body, err := enc.encode(records)
				if err != nil {
					t.Fatal(err)
				}
				pb, err := snappy.Decode(nil, body)
				if err != nil {
					t.Fatal(err)
				}
				var req push.PushRequest
				if err := req.Unmarshal(pb); err != nil {
					t.Fatalf("%s, json %v: not a PushRequest: %v", name, jsonLines, err)
				}
				want, err := req.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(pb, want) {
					t.Fatalf("%s, json %v: the encoding differs from push.PushRequest.Marshal's", name, jsonLines)
				}
				n := 0
				for _, s := range req.Streams {
					n += len(s.Entries)
					for i := 1; i < len(s.Entries); i++ {
						if s.Entries[i].Timestamp.Before(s.Entries[i-1].Timestamp) {
							t.Fatalf("%s: stream %s is not in time order", name, s.Labels)
						}
					}
				}
				if n != len(records) {
					t.Fatalf("%s: %d entries, want %d", name, n, len(records))
				}
			}
		}
	}
}
