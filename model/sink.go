package model

import "time"

// Sink states, as users see them in the API and `opshub status`.
const (
	SinkRunning = "running" // delivering, or idle with nothing to deliver
	SinkFailing = "failing" // the destination refuses or cannot be reached; records wait in the buffer
	SinkPaused  = "paused"  // paused through the API; records wait in the buffer
)

// SinkStatus is the state of one configured log sink.
type SinkStatus struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	State string `json:"state"` // running | failing | paused
	// LastError is the last delivery failure, kept until a delivery succeeds.
	LastError string `json:"lastError,omitempty"`
	// LastDelivery is when a batch was last accepted by the destination.
	LastDelivery time.Time `json:"lastDelivery,omitzero"`
	// BufferBytes and BufferEvents are what waits in the on-disk buffer;
	// BufferMaxBytes is its bound.
	BufferBytes    int64 `json:"bufferBytes"`
	BufferEvents   int64 `json:"bufferEvents"`
	BufferMaxBytes int64 `json:"bufferMaxBytes"`
	// BufferError is why the buffer cannot be written (its filesystem is
	// full, most likely), set while records wait to be written: the
	// collector's Sends wait meanwhile, and go on by themselves once a
	// write succeeds. BufferErrorSince is when writes began to fail.
	BufferError      string    `json:"bufferError,omitempty"`
	BufferErrorSince time.Time `json:"bufferErrorSince,omitzero"`
	// Sent, Retried and DeadLettered count events since start.
	Sent         int64 `json:"sent"`
	Retried      int64 `json:"retried"`
	DeadLettered int64 `json:"deadLettered"`
	// Validation is the result of the validation line sent on start (and
	// when a config reload changed the sink); nil until it was tried.
	Validation *SinkValidation `json:"validation,omitempty"`
	// Removing is set for a sink a config reload removed that still
	// delivers what its buffer holds, until DrainUntil at the latest; then
	// it leaves the list.
	Removing   bool      `json:"removing,omitempty"`
	DrainUntil time.Time `json:"drainUntil,omitzero"`
}

// SinkValidation is the outcome of the one line a sink sends when it starts.
type SinkValidation struct {
	Time  time.Time `json:"time"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
}
