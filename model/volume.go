package model

// Volume is storage a service's instances use: a PersistentVolumeClaim on
// Kubernetes, a directory with a declared capacity on a single machine.
// Metrics and alerts label volume samples with its name.
type Volume struct {
	Name string `json:"name"`
	// Capacity is what the volume holds, in bytes; 0 when not known yet
	// (a claim that is not bound).
	Capacity int64 `json:"capacity"`
	// Instances are the instances that mount it, sorted.
	Instances []string `json:"instances"`
}
