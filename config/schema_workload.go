package config

// Workload is a process that opshub supervises on platform kind local: a
// service when it runs with replicas, a job when its restart policy is Never
// or OnFailure.
type Workload struct {
	// Name is a DNS label, unique within the project.
	Name string `yaml:"name"`
	// Project groups workloads; default "default".
	Project string `yaml:"project"`
	// Command is the program and its arguments. A relative program path (one
	// containing a slash) is made absolute against opshub's working
	// directory. Per-instance variables such as ${PORT} are left for run time.
	Command []string `yaml:"command" config:"keepinstance"`
	// Replicas is the desired number of instances; default 1. Use ReplicaCount.
	Replicas *int `yaml:"replicas"`
	// Port is the stable port opshub proxies to ready instances; 0 for none.
	// Each instance listens on its own $PORT.
	Port int `yaml:"port,omitempty"`
	// Env is added to opshub's own environment for each instance.
	Env map[string]string `yaml:"env,omitempty" config:"keepinstance"`
	// WorkingDir is the instance's working directory; empty means opshub's.
	WorkingDir string    `yaml:"workingDir,omitempty" config:"keepinstance"`
	Resources  Resources `yaml:"resources"`
	Volumes    []Volume  `yaml:"volumes,omitempty"`

	// Job holds the keys of a job (restartPolicy Never or OnFailure).
	Job JobSpec `yaml:",inline"`

	Probes Probes `yaml:"probes"`
	// RestartPolicy is Always, OnFailure or Never; default Always.
	RestartPolicy string `yaml:"restartPolicy"`
	// GracePeriod is the time between SIGTERM and SIGKILL; default 30s.
	GracePeriod Duration `yaml:"gracePeriod"`
	// Tags select the workload for groups and notification integrations.
	Tags []string `yaml:"tags,omitempty"`
	// Strategy is how a release replaces running instances.
	Strategy Strategy `yaml:"strategy,omitempty"`
}

// Strategy is a workload's update strategy, with a Deployment's field
// names. Type defaults to RollingUpdate, and to Recreate for a workload with
// volumes (two instances never share a volume). MaxSurge defaults to 1 and
// MaxUnavailable to 0 (instance counts); both 0 is refused.
type Strategy struct {
	Type            string `yaml:"type,omitempty"`
	MaxSurge        *int   `yaml:"maxSurge,omitempty"`
	MaxUnavailable  *int   `yaml:"maxUnavailable,omitempty"`
	MinReadySeconds int    `yaml:"minReadySeconds,omitempty"`
}

// Update strategies.
const (
	StrategyRollingUpdate = "RollingUpdate"
	StrategyRecreate      = "Recreate"
)

// StrategyType is Type, or its default for the workload.
func (w Workload) StrategyType() string {
	switch {
	case w.Strategy.Type != "":
		return w.Strategy.Type
	case len(w.Volumes) > 0:
		return StrategyRecreate
	}
	return StrategyRollingUpdate
}

// Surge returns maxSurge and maxUnavailable with their defaults.
func (s Strategy) Surge() (maxSurge, maxUnavailable int) {
	maxSurge, maxUnavailable = 1, 0
	if s.MaxSurge != nil {
		maxSurge = *s.MaxSurge
	}
	if s.MaxUnavailable != nil {
		maxUnavailable = *s.MaxUnavailable
	}
	return maxSurge, maxUnavailable
}

// ReplicaCount returns the desired number of instances (1 when unset).
func (w Workload) ReplicaCount() int {
	if w.Replicas == nil {
		return 1
	}
	return *w.Replicas
}

// Restart policies, as in a Kubernetes pod spec.
const (
	RestartAlways    = "Always"
	RestartOnFailure = "OnFailure"
	RestartNever     = "Never"
)

// Resources are per-instance limits; zero means no limit.
type Resources struct {
	CPU    CPU      `yaml:"cpu,omitempty"`
	Memory ByteSize `yaml:"memory,omitempty"`
}

// Volume is a directory with a declared capacity. Each instance finds its
// path in $OPSHUB_VOLUME_<NAME> (see VolumeVar).
type Volume struct {
	// Name is a DNS label, unique within the workload.
	Name string `yaml:"name"`
	// Path is the directory; default <dataDir>/volumes/<project>/<workload>/<name>.
	Path     string   `yaml:"path"`
	Capacity ByteSize `yaml:"capacity"`
}
