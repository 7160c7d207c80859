package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestRenderSinks(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	list := []model.SinkStatus{
		{Name: "archive", Type: "file", State: model.SinkRunning, BufferMaxBytes: 1 << 30, Sent: 1200,
			LastDelivery: now.Add(-3 * time.Second), Validation: &model.SinkValidation{OK: true}},
		{Name: "grafana", Type: "loki", State: model.SinkFailing, BufferBytes: 3 << 19, BufferEvents: 4000, BufferMaxBytes: 1 << 30,
			Sent: 10, Retried: 50, LastError: "post batch: HTTP 503"},
		{Name: "hook", Type: "http", State: model.SinkPaused, BufferMaxBytes: 64 << 20, DeadLettered: 2},
	}
	var out bytes.Buffer
	if err := renderSinks(&out, list, now); err != nil {
		t.Fatal(err)
	}
	want := `
Sinks:
  NAME     TYPE  STATE    BUFFER              SENT  RETRIED  DEAD-LETTERED  LAST DELIVERY  NOTE
  archive  file  running  0B/1GiB (0)         1200  0        0              3s ago         validation line delivered
  grafana  loki  failing  1.5MiB/1GiB (4000)  10    50       0              never          post batch: HTTP 503
  hook     http  paused   0B/64MiB (0)        0     0        2              never          -
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	if err := renderSinks(&out, nil, now); err != nil || out.Len() != 0 {
		t.Fatalf("no sinks must print nothing, got %q", out.String())
	}
}
