package probes

import (
	"context"
	"time"
)

// Target is the container a probe checks, as it runs now.
type Target struct {
	// Host is the address probes connect to; default 127.0.0.1.
	Host string
	// Port is the container's own port ($PORT): the port of HTTP, TCP and
	// gRPC probes that name none.
	Port int
	// Env is the environment of exec probes ("K=V"), normally the
	// container's own; their ${VAR} references are expanded from it and
	// its PATH finds their program.
	Env []string
	// Dir is the working directory of exec probes; "" means opshub's.
	Dir string
}

func (t Target) host() string {
	if t.Host == "" {
		return "127.0.0.1"
	}
	return t.Host
}

// Handler runs one kind of check.
//
// Callers may rely on: Probe never returns an error and never takes much
// longer than timeout. Everything that keeps the check from passing (a
// refused connection, a timeout, a bad status, a command that cannot start)
// is a Failure whose Output says why, as the kubelet turns dial and timeout
// errors into failures. Handlers are safe for concurrent use.
type Handler interface {
	// Probe checks target once. It fills Result, Output and StatusCode;
	// the caller times the run.
	Probe(ctx context.Context, target Target, timeout time.Duration) Outcome
	// Describe names the check for people: "http GET :8080/ready",
	// "tcp :$PORT", "exec [cat /tmp/healthy]", "grpc :9090".
	Describe() string
}

// portText renders a handler's port for Describe.
func portText(port int) string {
	if port == 0 {
		return ":$PORT"
	}
	return ":" + itoa(port)
}

// portFor is the handler's port, or the target's when it names none.
func portFor(own int, t Target) int {
	if own != 0 {
		return own
	}
	return t.Port
}
