//go:build outage

package sinktest_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
	"github.com/opshub/opshub/sinks/elasticsearch"
	"github.com/opshub/opshub/sinks/loki"
)

// This file holds the slow end-to-end check of issue 4's delivery promise;
// `make test-sinks-outage` runs it (build tag outage).

const (
	outageLines  = 100_000
	outageFor    = 60 * time.Second
	outageBatch  = 1000
	outageTenant = "3" // loki's tenant; elasticsearch writes to tenant 4
)

var outageStreams = []struct{ service, stream string }{
	{"web", "stdout"}, {"web", "stderr"}, {"api", "stdout"}, {"api", "stderr"},
}

// TestOutageEveryLineArrivesOnceInOrder sends 100k numbered lines through the
// sinks router to a loki and an elasticsearch sink, both pointing at one
// VictoriaLogs, which is stopped for 60 s in the middle of the run while
// lines keep coming. Afterwards every line must be there exactly once, and
// each stream must have been delivered in order.
func TestOutageEveryLineArrivesOnceInOrder(t *testing.T) {
	vl := sinktest.StartVictoriaLogs(t)
	lokiDest := mustNew(t, loki.Plugin, "loki", "url: "+vl.URL+"/insert/loki/api/v1/push\ntenantID: \""+outageTenant+"\"")
	esDest := mustNew(t, elasticsearch.Plugin, "elasticsearch", "url: "+vl.URL+"/insert/elasticsearch/?_time_field=@timestamp&_msg_field=log&_stream_fields=project,service,stream\nheaders: {AccountID: \"4\"}")
	checks := map[string]*orderCheck{"loki": {Destination: lokiDest}, "elasticsearch": {Destination: esDest}}

	var events sync.Map
	router, err := sinks.NewRouter([]sinks.SinkConfig{
		{Spec: sinks.Spec{Name: "loki", Type: "loki"}, Destination: checks["loki"]},
		{Spec: sinks.Spec{Name: "elasticsearch", Type: "elasticsearch"}, Destination: checks["elasticsearch"]},
	}, sinks.Options{
		DataDir:      t.TempDir(),
		Retry:        sinks.RetryPolicy{Initial: 100 * time.Millisecond, Max: 2 * time.Second},
		FailingAfter: 5 * time.Second,
		Emit:         func(e model.Event) { events.Store(e.Name, true) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		router.Close()
	}()

	base := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	next := 0
	send := func(n int) {
		for end := next + n; next < end; next += outageBatch {
			var recs []model.LogRecord
			for i := next; i < next+outageBatch; i++ {
				s := outageStreams[i%len(outageStreams)]
				seq := i / len(outageStreams)
				recs = append(recs, model.LogRecord{
					Time:   base.Add(time.Duration(i) * time.Millisecond),
					Ref:    model.Ref{Project: "outage", Service: s.service, Instance: s.service + "-1", Container: s.service},
					Stream: s.stream,
					Log:    fmt.Sprintf("%s %s %06d", s.service, s.stream, seq),
				})
			}
			if err := router.Send(ctx, sinks.Batch{Records: recs, Ack: func() {}}); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
	}

	// Before the outage: some lines arrive.
	send(30_000)
	vl.WaitRows(t, `project:=outage | stats count() as n | filter n:>0`, map[string]string{"AccountID": outageTenant}, 1, 30*time.Second)

	// The outage: the destination is gone for 60 s while 40k lines come in
	// at an even pace.
	vl.Stop(t)
	stopped := time.Now()
	tick := time.NewTicker(outageFor / 40)
	for range 40 {
		<-tick.C
		send(1000)
	}
	tick.Stop()
	if d := time.Since(stopped); d < outageFor {
		t.Fatalf("outage lasted %s, want at least %s", d, outageFor)
	}
	if _, ok := events.Load(model.EventSinkFailing); !ok {
		t.Errorf("no %s event during a 60 s outage", model.EventSinkFailing)
	}
	vl.Start(t)

	// After: the rest, then everything must drain.
	send(outageLines - next)
	perStream := outageLines / len(outageStreams)
	for name, tenant := range map[string]string{"loki": outageTenant, "elasticsearch": "4"} {
		h := map[string]string{"AccountID": tenant}
		waitCount(t, vl, `project:=outage`, h, outageLines, 3*time.Minute)
		for _, s := range outageStreams {
			rows := vl.WaitRows(t, fmt.Sprintf(`project:=outage service:=%s stream:=%s | sort by (_time) | fields _msg`, s.service, s.stream), h, perStream, 30*time.Second)
			for i, row := range rows {
				if want := fmt.Sprintf("%s %s %06d", s.service, s.stream, i); row["_msg"] != want {
					t.Fatalf("%s: %s/%s entry %d = %q, want %q", name, s.service, s.stream, i, row["_msg"], want)
				}
			}
		}
		if bad := checks[name].violations(); len(bad) > 0 {
			t.Errorf("%s: delivered out of order or twice: %s", name, strings.Join(bad, "; "))
		}
	}
	if _, ok := events.Load(model.EventSinkRecovered); !ok {
		t.Errorf("no %s event after the destination came back", model.EventSinkRecovered)
	}
}

// waitCount polls a stats count, which sees rows sooner than row queries.
func waitCount(t *testing.T, vl *sinktest.VictoriaLogs, filter string, h map[string]string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := vl.Count(t, filter, h)
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("%s with %v: %d entries, want %d", filter, h, got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func mustNew(t *testing.T, p sinks.Plugin, typ, raw string) sinks.Destination {
	t.Helper()
	d, err := p.New(sinks.Spec{Name: typ, Type: typ, Settings: plugintest.Decode(t, p.Settings(), raw)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// orderCheck wraps a destination and records every accepted batch that
// would put a stream out of order or deliver a line twice.
type orderCheck struct {
	sinks.Destination
	mu   sync.Mutex
	last map[string]int
	bad  []string
}

func (o *orderCheck) Deliver(ctx context.Context, recs []model.LogRecord) error {
	err := o.Destination.Deliver(ctx, recs)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = map[string]int{}
	}
	for _, r := range recs {
		if r.Project != "outage" {
			continue // the validation line
		}
		key := r.Service + "/" + r.Stream
		seq, _ := strconv.Atoi(r.Log[strings.LastIndexByte(r.Log, ' ')+1:])
		if last, ok := o.last[key]; ok && seq != last+1 && len(o.bad) < 10 {
			o.bad = append(o.bad, fmt.Sprintf("%s: %d after %d", key, seq, last))
		}
		o.last[key] = seq
	}
	return nil
}

func (o *orderCheck) violations() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bad
}
