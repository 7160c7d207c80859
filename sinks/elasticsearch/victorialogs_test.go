package elasticsearch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestVictoriaLogsReceivesEveryDocumentInOrder sends numbered lines of two
// streams, gzipped, through VictoriaLogs' _bulk endpoint and reads them back.
func TestVictoriaLogsReceivesEveryDocumentInOrder(t *testing.T) {
	vl := sinktest.StartVictoriaLogs(t)
	d := newFromYAML(t, `
url: `+vl.URL+`/insert/elasticsearch/?_time_field=@timestamp&_msg_field=log&_stream_fields=project,service,stream
compression: gzip
`)
	const perStream, batch = 1000, 500
	streams := []string{"stdout", "stderr"}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for start := 0; start < perStream; start += batch {
		var records []model.LogRecord
		for i := start; i < start+batch; i++ {
			for _, s := range streams {
				r := record(0, fmt.Sprintf("%s line %06d", s, i))
				r.Stream, r.Time = s, base.Add(time.Duration(i)*time.Millisecond)
				records = append(records, r)
			}
		}
		if err := d.Deliver(context.Background(), records); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	vl.WaitRows(t, "*", nil, perStream*len(streams), 30*time.Second)
	for _, s := range streams {
		rows := vl.WaitRows(t, fmt.Sprintf(`{stream=%q} | sort by (_time)`, s), nil, perStream, 10*time.Second)
		for i, row := range rows {
			if want := fmt.Sprintf("%s line %06d", s, i); row["_msg"] != want {
				t.Fatalf("%s entry %d = %q, want %q", s, i, row["_msg"], want)
			}
		}
		first := rows[0]
		for k, want := range map[string]string{"project": "demo", "service": "web", "instance": "web-1", "labels.team": "core", "_time": base.UTC().Format(time.RFC3339Nano)} {
			if first[k] != want {
				t.Errorf("%s field %s = %q, want %q (row %v)", s, k, first[k], want, first)
			}
		}
	}
}
