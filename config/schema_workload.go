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
