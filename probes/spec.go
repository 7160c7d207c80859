package probes

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Type is the kind of a probe: what its result is used for.
type Type string

// The probe types.
const (
	// Startup gates the other probes until it first succeeds; its failure
	// restarts the container.
	Startup Type = "startup"
	// Readiness decides whether the container gets traffic.
	Readiness Type = "readiness"
	// Liveness restarts the container when it fails.
	Liveness Type = "liveness"
)

// Types lists the probe types in the order they matter to a new container.
var Types = []Type{Startup, Readiness, Liveness}

// title is the type as the kubelet writes it in events ("Liveness").
func (t Type) title() string {
	if t == "" {
		return ""
	}
	return strings.ToUpper(string(t[:1])) + string(t[1:])
}

// The kubelet's defaults for a probe's timing (k8s.io/api core/v1 defaults).
const (
	DefaultPeriod           = 10 * time.Second
	DefaultTimeout          = 1 * time.Second
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// Spec is one probe: exactly one handler and its timing. Zero timing
// fields take the kubelet's defaults (Normalize).
type Spec struct {
	HTTP *HTTPAction
	TCP  *TCPAction
	Exec *ExecAction
	GRPC *GRPCAction

	InitialDelay     time.Duration
	Period           time.Duration
	Timeout          time.Duration
	SuccessThreshold int
	FailureThreshold int
}

// HTTPAction is an HTTP GET; it passes on a status from 200 to 399.
type HTTPAction struct {
	// Path defaults to "/".
	Path string
	// Port defaults (0) to the target's port: the instance's $PORT.
	Port int
	// Scheme is "HTTP" (default) or "HTTPS"; certificates are not verified,
	// as the kubelet does not verify them.
	Scheme string
	// Headers are sent with the request; a Host header sets the host.
	Headers map[string]string
}

// TCPAction passes when a TCP connection opens.
type TCPAction struct {
	// Port defaults (0) to the target's port.
	Port int
}

// ExecAction passes when the command exits 0 within the timeout. ${VAR}
// references in it are expanded from the target's environment.
type ExecAction struct {
	Command []string
}

// GRPCAction passes when the standard health service
// (grpc.health.v1.Health/Check) answers SERVING.
type GRPCAction struct {
	// Port defaults (0) to the target's port.
	Port int
	// Service is sent in the request; "" asks about the server as a whole.
	Service string
}

// Set is the probes of one container; nil members are not configured.
type Set struct {
	Startup   *Spec
	Readiness *Spec
	Liveness  *Spec
}

// Empty reports whether no probe is configured.
func (s Set) Empty() bool { return s.Startup == nil && s.Readiness == nil && s.Liveness == nil }

// Get returns the probe of type t, or nil.
func (s Set) Get(t Type) *Spec {
	switch t {
	case Startup:
		return s.Startup
	case Readiness:
		return s.Readiness
	case Liveness:
		return s.Liveness
	}
	return nil
}

// Clone copies the set deeply, so that callers' later changes do not reach
// a running prober.
func (s Set) Clone() Set {
	return Set{Startup: s.Startup.clone(), Readiness: s.Readiness.clone(), Liveness: s.Liveness.clone()}
}

func (p *Spec) clone() *Spec {
	if p == nil {
		return nil
	}
	c := *p
	if p.HTTP != nil {
		h := *p.HTTP
		h.Headers = maps.Clone(p.HTTP.Headers)
		c.HTTP = &h
	}
	if p.TCP != nil {
		t := *p.TCP
		c.TCP = &t
	}
	if p.Exec != nil {
		e := ExecAction{Command: slices.Clone(p.Exec.Command)}
		c.Exec = &e
	}
	if p.GRPC != nil {
		g := *p.GRPC
		c.GRPC = &g
	}
	return &c
}

// Normalize fills the kubelet's defaults into zero fields and checks the
// set as the API server validates a container's probes. Every problem is
// reported at once.
func (s *Set) Normalize() error {
	var errs []error
	for _, t := range Types {
		p := s.Get(t)
		if p == nil {
			continue
		}
		for _, err := range p.normalize(t) {
			errs = append(errs, fmt.Errorf("%s probe: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Spec) normalize(t Type) []error {
	if p.Period == 0 {
		p.Period = DefaultPeriod
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = DefaultSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultFailureThreshold
	}
	if p.HTTP != nil {
		if p.HTTP.Path == "" {
			p.HTTP.Path = "/"
		}
		if p.HTTP.Scheme == "" {
			p.HTTP.Scheme = "HTTP"
		}
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	handlers := 0
	for _, set := range []bool{p.HTTP != nil, p.TCP != nil, p.Exec != nil, p.GRPC != nil} {
		if set {
			handlers++
		}
	}
	if handlers != 1 {
		add("needs exactly one of http, tcp, exec or grpc, has %d", handlers)
	}
	if p.InitialDelay < 0 {
		add("initial delay %s is negative", p.InitialDelay)
	}
	if p.Period < 0 {
		add("period %s is negative", p.Period)
	}
	if p.Timeout < 0 {
		add("timeout %s is negative", p.Timeout)
	}
	if p.FailureThreshold < 1 {
		add("failure threshold %d is less than 1", p.FailureThreshold)
	}
	if p.SuccessThreshold < 1 {
		add("success threshold %d is less than 1", p.SuccessThreshold)
	} else if p.SuccessThreshold != 1 && (t == Liveness || t == Startup) {
		add("success threshold must be 1 for %s probes, got %d", t, p.SuccessThreshold)
	}
	if p.HTTP != nil {
		if !strings.HasPrefix(p.HTTP.Path, "/") {
			add("http path %q must start with /", p.HTTP.Path)
		}
		if s := strings.ToUpper(p.HTTP.Scheme); s != "HTTP" && s != "HTTPS" {
			add("http scheme %q must be HTTP or HTTPS", p.HTTP.Scheme)
		}
	}
	if port := portOf(p); port < 0 || port > 65535 {
		add("port %d is out of range", port)
	}
	if p.Exec != nil && (len(p.Exec.Command) == 0 || p.Exec.Command[0] == "") {
		add("exec command must not be empty")
	}
	return errs
}

// portOf is the handler's own port; 0 means the target's.
func portOf(p *Spec) int {
	switch {
	case p.HTTP != nil:
		return p.HTTP.Port
	case p.TCP != nil:
		return p.TCP.Port
	case p.GRPC != nil:
		return p.GRPC.Port
	}
	return 0
}
