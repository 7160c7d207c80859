package app

import (
	"context"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// countingOutput counts the records of every batch the collector hands to
// the sinks, per container, for the log-lines metric; it passes the batch
// on unchanged.
type countingOutput struct {
	next  sinks.Output
	lines *metrics.LineCounter
}

func (o countingOutput) Send(ctx context.Context, b sinks.Batch) error {
	var ref model.Ref
	n := 0
	for _, r := range b.Records {
		if r.Ref != ref {
			o.lines.Add(ref, n)
			ref, n = r.Ref, 0
		}
		n++
	}
	o.lines.Add(ref, n)
	return o.next.Send(ctx, b)
}
