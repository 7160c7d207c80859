package config

// Probes are a workload's health checks, with the kubelet's semantics.
type Probes struct {
	// Startup gates the other probes until it first succeeds.
	Startup *Probe `yaml:"startup,omitempty"`
	// Readiness decides whether the proxy sends traffic to an instance.
	Readiness *Probe `yaml:"readiness,omitempty"`
	// Liveness restarts an instance after FailureThreshold failures.
	Liveness *Probe `yaml:"liveness,omitempty"`
}

// Probe is one health check. Exactly one of HTTP, TCP, Exec and GRPC is set.
// Defaults are the kubelet's: delay 0, period 10 s, timeout 1 s, success 1,
// failure 3.
type Probe struct {
	HTTP                *HTTPProbe `yaml:"http,omitempty"`
	TCP                 *TCPProbe  `yaml:"tcp,omitempty"`
	Exec                *ExecProbe `yaml:"exec,omitempty"`
	GRPC                *GRPCProbe `yaml:"grpc,omitempty"`
	InitialDelaySeconds int        `yaml:"initialDelaySeconds"`
	PeriodSeconds       int        `yaml:"periodSeconds"`
	TimeoutSeconds      int        `yaml:"timeoutSeconds"`
	SuccessThreshold    int        `yaml:"successThreshold"`
	FailureThreshold    int        `yaml:"failureThreshold"`
}

// HTTPProbe passes on a status from 200 to 399.
type HTTPProbe struct {
	// Path defaults to "/".
	Path string `yaml:"path"`
	// Port defaults (0) to the instance's $PORT.
	Port int `yaml:"port,omitempty"`
	// Scheme is HTTP or HTTPS; default HTTP.
	Scheme  string            `yaml:"scheme"`
	Headers map[string]string `yaml:"headers,omitempty"`
}

// TCPProbe passes when a connection opens.
type TCPProbe struct {
	// Port defaults (0) to the instance's $PORT.
	Port int `yaml:"port,omitempty"`
}

// ExecProbe passes when the command exits 0.
type ExecProbe struct {
	Command []string `yaml:"command" config:"keepinstance"`
}

// GRPCProbe passes when the standard health service answers SERVING.
type GRPCProbe struct {
	// Port defaults (0) to the instance's $PORT.
	Port    int    `yaml:"port,omitempty"`
	Service string `yaml:"service,omitempty"`
}
