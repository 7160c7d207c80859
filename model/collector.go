package model

import "time"

// CollectorStatus says whether the log collector reads its files, and when
// it does not, why: it holds back (back-pressure) while it cannot write its
// checkpoints or a sink cannot write its buffer, and goes on by itself once
// it can. GET /api/v1/collector answers it.
type CollectorStatus struct {
	State string `json:"state"` // reading | held
	// Reason names what cannot be written and the error, while held.
	Reason string `json:"reason,omitempty"`
	// Since is when the collector began to hold back.
	Since time.Time `json:"since,omitzero"`
}

// Collector states.
const (
	CollectorReading = "reading"
	CollectorHeld    = "held"
)
