package stdout

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func TestWritesOneLinePerRecord(t *testing.T) {
	recs := []model.LogRecord{
		{Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Ref: model.Ref{Project: "demo", Service: "web"}, Stream: "stdout", Log: "a"},
		{Time: time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC), Stream: "stderr", Log: "b"},
	}
	tests := []struct {
		encoding, want string
	}{
		{"text", "2026-11-24T10:00:00Z stdout a\n2026-11-24T10:00:01Z stderr b\n"},
		{"json", `{"ts":"2026-11-24T10:00:00Z","project":"demo","service":"web","stream":"stdout","log":"a"}` + "\n" +
			`{"ts":"2026-11-24T10:00:01Z","stream":"stderr","log":"b"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.encoding, func(t *testing.T) {
			var out bytes.Buffer
			s, err := NewWriter(sinks.Spec{Name: "console", Type: "stdout", Encoding: tt.encoding}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Deliver(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("wrote\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}
