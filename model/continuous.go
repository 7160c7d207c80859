package model

import "time"

// ContinuousState is what a continuous deployment (release.continuous) or
// an image trigger of a flow saw in its registry and did, as the API shows
// it (GET /api/v1/services/{project}/{service}/continuous).
type ContinuousState struct {
	Project   string `json:"project,omitempty"`
	Service   string `json:"service,omitempty"`
	Container string `json:"container,omitempty"`
	Flow      string `json:"flow,omitempty"`
	Image     string `json:"image"`
	Tag       string `json:"tag,omitempty"`
	Semver    string `json:"semver,omitempty"`
	// ResolvedTag is the tag read last (the highest in a semver range).
	ResolvedTag string `json:"resolvedTag,omitempty"`
	// Digest is what the tag pointed at when the registry was read last.
	Digest  string    `json:"digest,omitempty"`
	Checked time.Time `json:"checked,omitzero"`
	// Error is why the last poll or deploy failed; empty once one works.
	Error string `json:"error,omitempty"`
	// Deployed is the digest of the last release continuous deployment
	// made (or found running), Revision that release and Outcome its
	// state.
	Deployed string `json:"deployed,omitempty"`
	Revision int    `json:"revision,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
	// FailedDigest is a digest whose release failed; it is not deployed
	// again until the tag points at another one.
	FailedDigest string `json:"failedDigest,omitempty"`
	// Paused is set by a deploy or rollback by hand; resumed with
	// `opshub deploy SERVICE --resume-continuous`.
	Paused       bool       `json:"paused"`
	PausedBy     string     `json:"pausedBy,omitempty"`
	PausedAt     *time.Time `json:"pausedAt,omitempty"`
	PausedReason string     `json:"pausedReason,omitempty"`
	// Run is the last flow run a new digest started.
	Run string `json:"run,omitempty"`
}
