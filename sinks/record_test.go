package sinks

import (
	"reflect"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestBufferedRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  model.LogRecord
	}{
		{"full record", model.LogRecord{
			Time:   time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC),
			Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c-2", Container: "web"},
			Stream: "stdout", Log: "GET / 200 é \x00\xff", Labels: model.Labels{"app": "web", "tier": ""}, Truncated: true,
		}},
		{"bare record", model.LogRecord{Time: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), Stream: "stderr"}},
		{"zero time", model.LogRecord{Log: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRecord(appendRecord(nil, tt.rec))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Fatalf("got %+v\nwant %+v", got, tt.rec)
			}
		})
	}
}

func TestBufferedRecordRejectsDamage(t *testing.T) {
	whole := appendRecord(nil, model.LogRecord{Time: time.Unix(1, 0), Stream: "stdout", Log: "hello", Labels: model.Labels{"a": "b"}})
	for cut := 0; cut < len(whole); cut++ {
		if _, err := decodeRecord(whole[:cut]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded", cut, len(whole))
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, model.LogRecord{Time: time.Unix(1, 0), Log: "x", Labels: model.Labels{"k": "v"}}))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := decodeRecord(p)
		if err != nil {
			return
		}
		again, err := decodeRecord(appendRecord(nil, r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encoding %+v gave %+v, %v", r, again, err)
		}
	})
}
