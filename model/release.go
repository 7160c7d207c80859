package model

import (
	"maps"
	"slices"
	"time"
)

// Release states, as fixed by the user-facing contract.
const (
	ReleaseProgressing = "progressing"
	ReleaseSucceeded   = "succeeded"
	ReleaseFailed      = "failed"
	ReleaseRolledBack  = "rolled-back"
	ReleaseSuperseded  = "superseded"
)

// What started a release (Release.Trigger.Kind).
const (
	TriggerAPI          = "api"
	TriggerConfig       = "config"
	TriggerFlow         = "flow"
	TriggerRollback     = "rollback"
	TriggerAutoRollback = "autorollback"
	TriggerContinuous   = "continuous"
	TriggerExternal     = "external"
)

// RunSpec is what a release changes. On one machine: the command, the
// environment and the working directory of a workload's instances; on
// Kubernetes: the image of each container and the environment of the pod
// template. Version is free text that names the release; it is part of the
// spec, so a new version is a new rollout.
type RunSpec struct {
	// Image is the image of the container a Kubernetes deploy changed
	// (the first container when none was named); Images has every one.
	Image      string            `json:"image,omitempty"`
	Images     map[string]string `json:"images,omitempty"`
	Command    []string          `json:"command,omitempty"`
	Env        map[string]string `json:"env"`
	WorkingDir string            `json:"workingDir,omitempty"`
	Version    string            `json:"version,omitempty"`
	// Sources says where variables of Env came from and which values are
	// secrets. It is not part of what runs: Equal ignores it.
	Sources map[string]EnvSource `json:"sources,omitempty"`
	// Groups are the groups a Kubernetes pod template takes (envFrom of
	// opshub's objects), lowest priority first; GroupsChecksum is the
	// checksum of what they give it (the annotation that rolls the pods
	// when a group's data changes). Empty on one machine, where a group's
	// variables are part of Env.
	Groups         []GroupRef `json:"groups,omitempty"`
	GroupsChecksum string     `json:"groupsChecksum,omitempty"`
}

// GroupRef names a group a pod template takes: its name and kind
// ("secret" or "config").
type GroupRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Group kinds of a GroupRef.
const (
	GroupKindSecret = "secret"
	GroupKindConfig = "config"
)

// EnvSource is where a variable of a run spec came from: From is
// SourceWorkload, "group NAME" or SourceDeploy. A Secret value is never
// shown, and the release history keeps only a keyed hash of it.
type EnvSource struct {
	From   string `json:"from"`
	Secret bool   `json:"secret,omitempty"`
}

// Sources of variables besides "group NAME".
const (
	SourceWorkload = "workload"
	SourceDeploy   = "deploy"
	// SourceRelease is the source of a variable whose source was not
	// recorded (a release from before sources were).
	SourceRelease = "release"
)

// SecretValue is how a secret value is shown.
const SecretValue = "<secret>"

// EnvVar is one variable an instance of a service gets, as the API shows
// it: Value is SecretValue for a secret.
type EnvVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// IsSecret tells whether the variable name holds a secret value.
func (s RunSpec) IsSecret(name string) bool { return s.Sources[name].Secret }

// SameSources tells whether two specs record the same sources.
func (s RunSpec) SameSources(o RunSpec) bool { return maps.Equal(s.Sources, o.Sources) }

// Clone copies the spec deeply.
func (s RunSpec) Clone() RunSpec {
	s.Command = slices.Clone(s.Command)
	s.Env = maps.Clone(s.Env)
	if s.Env == nil {
		s.Env = map[string]string{}
	}
	s.Images = maps.Clone(s.Images)
	s.Sources = maps.Clone(s.Sources)
	s.Groups = slices.Clone(s.Groups)
	return s
}

// Equal tells whether two specs would run the same thing.
func (s RunSpec) Equal(o RunSpec) bool {
	return s.Image == o.Image && maps.Equal(s.Images, o.Images) && slices.Equal(s.Command, o.Command) &&
		maps.Equal(s.Env, o.Env) && s.WorkingDir == o.WorkingDir && s.Version == o.Version &&
		slices.Equal(s.Groups, o.Groups) && s.GroupsChecksum == o.GroupsChecksum
}

// ReleaseTrigger says what started a release: Kind is one of the Trigger*
// constants, By the token (or "loopback") that asked, FlowRun the flow run.
type ReleaseTrigger struct {
	Kind    string `json:"kind"`
	By      string `json:"by,omitempty"`
	FlowRun string `json:"flowRun,omitempty"`
}

// ReleaseProgress is how far a rollout got: instances wanted, instances of
// the new revision, of those the ready ones, and instances of older
// revisions still running.
type ReleaseProgress struct {
	Desired int `json:"desired"`
	Updated int `json:"updated"`
	Ready   int `json:"ready"`
	Old     int `json:"old"`
	// Waiting names the instance the rollout waits on and why, while it
	// progresses ("web-1a2b-3: readiness failing: HTTP 503").
	Waiting string `json:"waiting,omitempty"`
}

// Release is one recorded rollout of a service's run spec.
type Release struct {
	Project  string          `json:"project"`
	Service  string          `json:"service"`
	Revision int             `json:"revision"`
	State    string          `json:"state"`
	Spec     RunSpec         `json:"spec"`
	Trigger  ReleaseTrigger  `json:"trigger"`
	Started  time.Time       `json:"started"`
	Finished *time.Time      `json:"finished,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Progress ReleaseProgress `json:"progress"`
	// RollbackOf is the revision whose spec a rollback restored.
	RollbackOf int `json:"rollbackOf,omitempty"`
	// Deadline is when a progressing rollout fails if it has not finished.
	Deadline *time.Time `json:"deadline,omitempty"`
	// PlatformRevision is the platform's own revision that ran this
	// release: on Kubernetes the Deployment's revision (its ReplicaSet's
	// deployment.kubernetes.io/revision); 0 when there is none.
	PlatformRevision int64 `json:"platformRevision,omitempty"`
}

// Done tells whether the release has ended.
func (r Release) Done() bool { return r.State != ReleaseProgressing }

// RolloutStatus is a platform's view of a service moving to its template.
type RolloutStatus struct {
	// Desired is the replica count; Updated the instances of the current
	// template (not stopping); Ready those of them that are ready;
	// Available those ready for at least the minimum ready time; Old the
	// instances of other templates still present, stopping or not.
	Desired, Updated, Ready, Available, Old int
	// Done: every desired instance runs the template and is available, and
	// no other instance is left.
	Done bool
	// Waiting names the instance the rollout waits on and why.
	Waiting string
	// New describes each instance of the current template.
	New []RolloutInstance
	// Revision is the platform's own revision of the current template
	// (Kubernetes: the Deployment's revision); 0 when it has none.
	Revision int64
	// Failed is set when the platform itself judged the rollout failed
	// (Kubernetes: the Deployment's progressDeadlineSeconds passed); it
	// says why.
	Failed string
}

// RolloutInstance is one instance of a template being rolled out.
type RolloutInstance struct {
	Name     string
	Status   Status
	Ready    bool
	Restarts int
	LastExit *Exit
}
