// Package sinks defines how log records leave opshub: the hand-off from the
// collector (Batch, Output), the Sink contract every destination implements,
// and (as it grows) the registry, filters, batching, durable buffer and retry
// policy they share. Each destination lives in a child package (sinks/loki,
// sinks/file, …) that imports this one, never the reverse.
//
// It must not know about files, tailing or checkpoints: it sees batches and
// answers with acknowledgements.
package sinks

import (
	"context"

	"github.com/opshub/opshub/model"
)

// Batch is a run of records handed from the collector to the sinks.
type Batch struct {
	Records []model.LogRecord
	// Ack is called exactly once, when every sink that took any of these
	// records holds them safely: delivered, durably buffered on disk, or
	// written to its dead-letter file. Only then may the collector advance
	// the checkpoints of the files the records came from. Ack must not block.
	Ack func()
}

// Output is where the collector hands batches.
//
// Callers may rely on:
//   - Send blocks while the destinations cannot take more (their buffers are
//     full): that is the back-pressure that pauses tailing, so that the files
//     themselves are the buffer. It returns ctx.Err() if ctx ends first, and
//     then the batch was not taken and Ack will not be called.
//   - After Send returns nil, Ack is called exactly once, possibly before Send
//     returns (a batch no sink wants is acknowledged at once).
//   - Records are delivered in the order of Send calls per source file.
type Output interface {
	Send(ctx context.Context, b Batch) error
}
