package local

import (
	"github.com/opshub/opshub/internal/vars"

	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/probes"
)

// RestartPolicy says when an instance whose process exited is started again,
// with the meaning of a pod's restartPolicy.
type RestartPolicy string

// The restart policies. The empty policy means Always.
const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// DefaultGracePeriod is the wait between SIGTERM and SIGKILL when a workload
// sets none: the pod default terminationGracePeriodSeconds.
const DefaultGracePeriod = 30 * time.Second

// Volume is a directory an instance may use, exposed to it as
// OPSHUB_VOLUME_<NAME>. It is created when missing; Capacity (bytes) is what
// the volume is declared to hold, used for usage alerts and spend.
type Volume struct {
	Name     string
	Path     string
	Capacity int64
}

// Workload is one service (or job) to supervise.
type Workload struct {
	Project, Name string
	// Command is the program and its arguments. Command[0] is absolute when
	// it had a slash; otherwise it is looked up in PATH. ${VAR} references
	// are expanded from the instance's environment.
	Command []string
	// Env is added to opshub's own environment; values may use ${VAR} to
	// refer to opshub's environment and to the variables the runtime sets.
	Env map[string]string
	// EnvSources says where variables of Env came from and which are
	// secrets; it goes with the run spec (model.RunSpec.Sources) and
	// changes nothing that runs.
	EnvSources map[string]model.EnvSource
	// WorkingDir is the process's working directory; "" means opshub's.
	WorkingDir string
	Replicas   int
	// Port is the front proxy's port on Options.ProxyHost; 0 means no proxy.
	Port int
	// CPUMilli and MemoryBytes are limits; 0 means none.
	CPUMilli    int64
	MemoryBytes int64
	Volumes     []Volume
	// RestartPolicy defaults to Always.
	RestartPolicy RestartPolicy
	// GracePeriod is the wait between SIGTERM and SIGKILL; 0 means DefaultGracePeriod.
	GracePeriod time.Duration
	// Probes are the instances' health checks, run with the kubelet's
	// semantics; zero timing fields take the kubelet's defaults. Without
	// probes an instance is ready once its $PORT accepts connections.
	Probes probes.Set
	// Version is the free-text version of the run spec the workload starts
	// with (a release's --version); it is part of the template hash.
	Version string
	// Strategy says how instances are replaced when the run spec changes.
	Strategy Strategy
}

// StrategyType names how a new run spec replaces the running instances.
type StrategyType string

// The strategies, with a Deployment's meaning.
const (
	// RollingUpdate starts new instances before it stops old ones.
	RollingUpdate StrategyType = "RollingUpdate"
	// Recreate stops every old instance before it starts a new one: the
	// only strategy for a workload with volumes, since two instances never
	// share a volume.
	Recreate StrategyType = "Recreate"
)

// Strategy is a workload's update strategy. MaxSurge and MaxUnavailable are
// instance counts (the defaults 1 and 0 are the mapper's, from the config);
// both 0 is refused, as Kubernetes does.
type Strategy struct {
	Type           StrategyType
	MaxSurge       int
	MaxUnavailable int
	// MinReady is how long a new instance must stay ready before it counts
	// as available (minReadySeconds).
	MinReady time.Duration
}

// ref returns the workload's service reference.
func (w *Workload) ref() model.Ref { return model.Ref{Project: w.Project, Service: w.Name} }

// nameRE is the DNS-1123 label rule Kubernetes applies to namespaces and
// container names. Names end up in directory names
// (<project>_<instance>_<uid>), so '_' and '/' must never appear in them.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// envNameRE is what a variable name may look like, in Env and in ${…}.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// normalize fills defaults and reports every problem at once.
func (w *Workload) normalize() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !nameRE.MatchString(w.Project) || len(w.Project) > 63 {
		add("project %q: must be a DNS label (lowercase letters, digits, '-', at most 63)", w.Project)
	}
	// The instance name adds "-<hash4>-<index>"; keep it a valid label.
	if !nameRE.MatchString(w.Name) || len(w.Name) > 50 {
		add("name %q: must be a DNS label (lowercase letters, digits, '-', at most 50)", w.Name)
	}
	if len(w.Command) == 0 || w.Command[0] == "" {
		add("command: must not be empty")
	}
	if w.Replicas < 0 {
		add("replicas: %d is negative", w.Replicas)
	}
	if w.Port < 0 || w.Port > 65535 {
		add("port: %d is out of range", w.Port)
	}
	if w.CPUMilli < 0 {
		add("cpu: %dm is negative", w.CPUMilli)
	}
	if w.MemoryBytes < 0 {
		add("memory: %d is negative", w.MemoryBytes)
	}
	if w.GracePeriod < 0 {
		add("grace period: %s is negative", w.GracePeriod)
	}
	switch w.RestartPolicy {
	case "":
		w.RestartPolicy = RestartAlways
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		add("restart policy %q: must be Always, OnFailure or Never", w.RestartPolicy)
	}
	if w.GracePeriod == 0 {
		w.GracePeriod = DefaultGracePeriod
	}
	for k := range w.Env {
		if !envNameRE.MatchString(k) {
			add("env %q: not a valid variable name", k)
		}
	}
	seen := map[string]bool{}
	for _, v := range w.Volumes {
		env := vars.Volume(v.Name)
		switch {
		case v.Name == "":
			add("volume: name must not be empty")
		case seen[env]:
			add("volume %q: declared twice (as %s)", v.Name, env)
		case v.Path == "":
			add("volume %q: path must not be empty", v.Name)
		case v.Capacity < 0:
			add("volume %q: capacity is negative", v.Name)
		}
		seen[env] = true
	}
	switch w.Strategy.Type {
	case "":
		w.Strategy.Type = RollingUpdate
		if len(w.Volumes) > 0 {
			w.Strategy.Type = Recreate
		}
	case Recreate:
	case RollingUpdate:
		if len(w.Volumes) > 0 {
			add("strategy: RollingUpdate would run two instances on one volume; a workload with volumes uses Recreate")
		}
	default:
		add("strategy %q: must be RollingUpdate or Recreate", w.Strategy.Type)
	}
	if w.Strategy.Type == RollingUpdate {
		if w.Strategy.MaxSurge < 0 || w.Strategy.MaxUnavailable < 0 {
			add("strategy: maxSurge and maxUnavailable must not be negative")
		}
		if w.Strategy.MaxSurge == 0 && w.Strategy.MaxUnavailable == 0 {
			// A zero Strategy is the caller leaving it to us.
			w.Strategy.MaxSurge = 1
		}
	}
	if w.Strategy.MinReady < 0 {
		add("strategy: minReadySeconds must not be negative")
	}
	if err := w.Probes.Normalize(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("workload %s/%s: %w", w.Project, w.Name, errors.Join(errs...))
	}
	return nil
}

// clone copies the workload deeply enough that the caller's later changes do
// not reach the runtime.
func (w Workload) clone() Workload {
	w.Command = slices.Clone(w.Command)
	env := make(map[string]string, len(w.Env))
	for k, v := range w.Env {
		env[k] = v
	}
	w.Env = env
	w.EnvSources = maps.Clone(w.EnvSources)
	w.Volumes = slices.Clone(w.Volumes)
	w.Probes = w.Probes.Clone()
	return w
}

// runSpec is the run spec the workload starts with.
func (w *Workload) runSpec() model.RunSpec {
	return model.RunSpec{Command: w.Command, Env: w.Env, WorkingDir: w.WorkingDir, Version: w.Version, Sources: w.EnvSources}.Clone()
}

// templateHash returns four hex digits that change when the run spec
// changes, like the pod-template-hash in a pod's name.
func (w *Workload) templateHash() string { return specHash(w.runSpec()) }

// specHash hashes a run spec: command, environment, working directory and
// version.
func specHash(spec model.RunSpec) string {
	h := sha256.New()
	for _, arg := range spec.Command {
		h.Write([]byte(arg))
		h.Write([]byte{0})
	}
	h.Write([]byte{1})
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{'='})
		h.Write([]byte(spec.Env[k]))
		h.Write([]byte{0})
	}
	if spec.WorkingDir != "" || spec.Version != "" {
		// Specs from before these fields keep their hash.
		h.Write([]byte{2})
		h.Write([]byte(spec.WorkingDir))
		h.Write([]byte{0})
		h.Write([]byte(spec.Version))
	}
	return hex.EncodeToString(h.Sum(nil))[:4]
}

// shouldRestart applies the policy to how a run ended.
func shouldRestart(policy RestartPolicy, exit model.Exit) bool {
	switch policy {
	case RestartNever:
		return false
	case RestartOnFailure:
		return exit.Code != 0
	default:
		return true
	}
}
