package loki

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestVictoriaLogsReceivesEveryLineInOrder pushes numbered lines of several
// streams in batches, as the sinks machinery would, to a real VictoriaLogs
// speaking the Loki protobuf push API, and reads them back.
func TestVictoriaLogsReceivesEveryLineInOrder(t *testing.T) {
	vl := sinktest.StartVictoriaLogs(t)
	d := newFromYAML(t, "", `
url: `+vl.URL+`/insert/loki/api/v1/push
tenantID: "7"
labelKeys: [team]
`)
	tenant := map[string]string{"AccountID": "7"}
	const perStream, batch = 1000, 250
	streams := []struct{ service, stream string }{{"web", "stdout"}, {"web", "stderr"}, {"api", "stdout"}}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for start := 0; start < perStream; start += batch {
		var records []model.LogRecord
		for i := start; i < start+batch; i++ {
			for _, s := range streams {
				r := record(0, s.service, s.stream, fmt.Sprintf("%s %s line %06d", s.service, s.stream, i))
				r.Time = base.Add(time.Duration(i) * time.Millisecond)
				records = append(records, r)
			}
		}
		if err := d.Deliver(context.Background(), records); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	vl.WaitRows(t, "*", tenant, perStream*len(streams), 30*time.Second)
	if n := vl.Count(t, "*", nil); n != 0 {
		t.Errorf("%d entries landed outside tenant 7", n)
	}

	for _, s := range streams {
		rows := vl.WaitRows(t, fmt.Sprintf(`{service=%q, stream=%q} | sort by (_time)`, s.service, s.stream), tenant, perStream, 10*time.Second)
		for i, row := range rows {
			want := fmt.Sprintf("%s %s line %06d", s.service, s.stream, i)
			if row["_msg"] != want {
				t.Fatalf("%s/%s entry %d = %q, want %q", s.service, s.stream, i, row["_msg"], want)
			}
		}
		first := rows[0]
		for k, want := range map[string]string{
			"project": "demo", "service": s.service, "container": s.service, "team": "core",
			"instance": s.service + "-7f9c-1", "app_kubernetes_io_name": s.service,
		} {
			if first[k] != want {
				t.Errorf("%s/%s field %s = %q, want %q (row %v)", s.service, s.stream, k, first[k], want, first)
			}
		}
		wantStream := `{container="` + s.service + `",project="demo",service="` + s.service + `",stream="` + s.stream + `",team="core"}`
		if first["_stream"] != wantStream {
			t.Errorf("stream = %s, want %s", first["_stream"], wantStream)
		}
		if ts, _ := time.Parse(time.RFC3339Nano, first["_time"]); !ts.Equal(base) {
			t.Errorf("first _time = %s, want %s", first["_time"], base.Format(time.RFC3339Nano))
		}
	}
}
