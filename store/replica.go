package store

import "context"

// Replica keeps a copy of the whole state file somewhere that outlives this
// process and this machine (on Kubernetes: objects in the API server, so
// that a newly elected controller starts from the state its predecessor
// committed).
//
// A DB opened with a Replica restores the file from Load when it opens, and
// every Update returns only after a snapshot that includes its commit has
// been saved, so what the replica holds is never behind what a caller was
// told is committed. Concurrent Updates may share one Save.
type Replica interface {
	// Load returns the latest saved snapshot, or nil and no error when
	// nothing was ever saved.
	Load(ctx context.Context) ([]byte, error)
	// Save stores snapshot (a complete bbolt file) in place of the previous
	// one. It returns once the snapshot is durable; an error means it may
	// not be.
	Save(ctx context.Context, snapshot []byte) error
}
