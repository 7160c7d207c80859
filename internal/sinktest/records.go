package sinktest

import (
	"fmt"
	"time"

	"github.com/opshub/opshub/model"
)

// AccessLogBatch is a batch as the collector hands it over, for the
// destinations' encoder benchmarks: 1000 access-log lines of about 120 bytes
// from 4 streams, with enrichment labels. It returns the records and the
// total bytes of their log lines, which benchmarks count as throughput.
func AccessLogBatch() ([]model.LogRecord, int64) {
	recs := make([]model.LogRecord, 1000)
	var n int64
	for i := range recs {
		svc := []string{"web", "api"}[i%2]
		recs[i] = model.LogRecord{
			Time:   time.Date(2026, 11, 24, 4, 0, 0, i*1000, time.UTC),
			Ref:    model.Ref{Project: "demo", Service: svc, Instance: svc + "-7f9c-2", Container: svc},
			Stream: []string{"stdout", "stderr"}[i/2%2],
			Log:    fmt.Sprintf(`10.0.%d.%d - - [24/Nov/2026:04:00:00 +0000] "GET /api/v1/items/%d HTTP/1.1" 200 %d "-" "curl/8.5.0"`, i%256, i%200, i, 1000+i),
			Labels: model.Labels{"app.kubernetes.io/name": svc, "team": "core"},
		}
		n += int64(len(recs[i].Log))
	}
	return recs, n
}

// Numbered are the lines "line 000000"… of one container (demo/web, web-1,
// stdout), from up to but not including to, a nanosecond apart: what the
// sink tests send to see that nothing is lost, repeated or reordered.
func Numbered(from, to int) []model.LogRecord {
	var out []model.LogRecord
	for i := from; i < to; i++ {
		out = append(out, model.LogRecord{
			Time:   time.Date(2026, 11, 24, 10, 0, 0, i, time.UTC),
			Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"},
			Stream: "stdout",
			Log:    fmt.Sprintf("line %06d", i),
		})
	}
	return out
}
