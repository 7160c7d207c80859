package config

import (
	"net"
	"strings"
)

// Config is the whole config file. Field names follow the YAML keys.
// After Load or Parse every unset field holds its default (see Default),
// relative paths are absolute, ${VAR} is expanded and *File secrets are read.
type Config struct {
	// DataDir holds checkpoints, buffers and state; created if missing.
	DataDir       string        `yaml:"dataDir"`
	Server        Server        `yaml:"server"`
	Platform      Platform      `yaml:"platform"`
	Workloads     []Workload    `yaml:"workloads,omitempty"`
	Groups        []Group       `yaml:"groups,omitempty"`
	Collector     Collector     `yaml:"collector"`
	Sinks         []Sink        `yaml:"sinks,omitempty"`
	Notifications Notifications `yaml:"notifications"`
	Alerts        Alerts        `yaml:"alerts"`
	Spend         Spend         `yaml:"spend"`
	Autoscaling   Autoscaling   `yaml:"autoscaling"`
	Release       Release       `yaml:"release"`

	// source remembers where keys were written, for Errorf. A pointer, so
	// that printing a Config does not print the whole index.
	source *source
	// plugins are the sink and integration types Parse knew.
	plugins Plugins
}

// source is what Parse learned about the file a Config came from.
type source struct {
	file  string
	lines lineIndex
}

// Errorf builds an *Error for a key path of this config, with the key's line
// when the config came from a file. Packages that check their own part of the
// config (a destination decoding Sink.Raw) use it so that their problems read
// like every other config error.
func (c *Config) Errorf(path, format string, args ...any) *Error {
	var rep *reporter
	if c.source != nil {
		rep = newReporter(c.source.file, c.source.lines)
	} else {
		rep = newReporter("", nil)
	}
	rep.errorf(path, format, args...)
	return rep.errs[0]
}

// Server is the HTTP API and web UI.
type Server struct {
	// Listen is host:port.
	Listen string `yaml:"listen"`
	// Tokens are bearer tokens; with none, only loopback clients are served.
	Tokens []Token `yaml:"tokens,omitempty"`
	// ExternalURL is where people reach the API (behind a proxy, an
	// ingress, or the cluster's Service); links in notifications start
	// with it. Default: http:// and server.listen, with 127.0.0.1 for an
	// empty host.
	ExternalURL string `yaml:"externalURL,omitempty"`
	// Exec bounds the exec, shell and forward sessions (an extension of
	// the documented keys; docs/exec.md).
	Exec ExecSessions `yaml:"exec"`
	// Limits bounds what clients can hold of the API (an extension of the
	// documented keys; docs/config.md).
	Limits ServerLimits `yaml:"limits"`
	// Pprof serves the Go runtime's profiles at /debug/pprof/ to tokens
	// with the admin scope (an extension of the documented keys;
	// docs/config.md). Off by default.
	Pprof bool `yaml:"pprof,omitempty"`
}

// ServerLimits bounds live tails and log queries.
type ServerLimits struct {
	// MaxTails is how many live tails the server serves at once.
	MaxTails int `yaml:"maxTails"`
	// MaxTailsPerClient is how many one token (or address) may hold.
	MaxTailsPerClient int `yaml:"maxTailsPerClient"`
	// MaxQueryRange bounds a log query's time range.
	MaxQueryRange Duration `yaml:"maxQueryRange"`
}

// ExecSessions bounds exec, shell and forward sessions.
type ExecSessions struct {
	// IdleTimeout ends a session in which nothing was sent either way
	// for this long.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxPerInstance is how many sessions one instance may have at once.
	MaxPerInstance int `yaml:"maxPerInstance"`
}

// BaseURL is ExternalURL, or the URL server.listen answers on.
func (s Server) BaseURL() string {
	if s.ExternalURL != "" {
		return strings.TrimSuffix(s.ExternalURL, "/")
	}
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return "http://" + s.Listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Token is one bearer token. Exactly one of Token and TokenFile is written in
// the file; after Load, Token holds the credential either way.
type Token struct {
	Name      string   `yaml:"name"`
	Token     Secret   `yaml:"token,omitempty"`
	TokenFile string   `yaml:"tokenFile,omitempty"`
	Scopes    []string `yaml:"scopes"`
}

// Token scopes.
const (
	ScopeRead   = "read"
	ScopeDeploy = "deploy"
	ScopeAdmin  = "admin"
	ScopeExec   = "exec"
)

// MarshalYAML leaves the credential out when it came from a file, so that the
// output names the file instead.
func (t Token) MarshalYAML() (any, error) {
	type plain Token
	if t.TokenFile != "" {
		t.Token = ""
	}
	return plain(t), nil
}

// Platform says what runs the services.
type Platform struct {
	// Kind is "local" (opshub supervises processes) or "kubernetes".
	Kind string `yaml:"kind"`
	// Kubeconfig is the kubeconfig file for kind kubernetes; empty means
	// in-cluster config, then $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	// NodeName is the node a collector serves, for kind kubernetes; usually
	// "${NODE_NAME}" filled from the downward API.
	NodeName string `yaml:"nodeName,omitempty"`
	// Namespace is where the controller keeps its leader Lease and state,
	// and where it looks for collector Leases, for kind kubernetes; empty
	// means $POD_NAMESPACE, else "opshub".
	Namespace string `yaml:"namespace,omitempty"`
	// LeaderElection times the controller's Lease, for kind kubernetes;
	// nil means the defaults (see Election).
	LeaderElection *LeaderElection `yaml:"leaderElection,omitempty"`
	// ControllerIdentities are the users a collector serves its node API to
	// (besides loopback clients), authenticated by the API server's
	// TokenReview; empty means the controller's ServiceAccount,
	// system:serviceaccount:<namespace>:opshub-controller.
	ControllerIdentities []string `yaml:"controllerIdentities,omitempty"`
	// KubeAPIQPS and KubeAPIBurst bound the controller's requests to the
	// API server (client-go's token bucket: a sustained rate a second and
	// the burst above it), for kind kubernetes; 0 means
	// DefaultKubeAPIQPS and DefaultKubeAPIBurst.
	KubeAPIQPS   float64 `yaml:"kubeAPIQPS,omitempty"`
	KubeAPIBurst int     `yaml:"kubeAPIBurst,omitempty"`
}

// The controller's default rate of requests to the API server: of the
// order of kube-controller-manager's, ten times client-go's own default
// (5 and 10), which queues a new leader's reads of a large cluster.
const (
	DefaultKubeAPIQPS   = 50
	DefaultKubeAPIBurst = 100
)

// KubeAPIRate returns platform.kubeAPIQPS and kubeAPIBurst, with their
// defaults when unset.
func (p Platform) KubeAPIRate() (qps float32, burst int) {
	qps, burst = DefaultKubeAPIQPS, DefaultKubeAPIBurst
	if p.KubeAPIQPS > 0 {
		qps = float32(p.KubeAPIQPS)
	}
	if p.KubeAPIBurst > 0 {
		burst = p.KubeAPIBurst
	}
	return qps, burst
}

// Election returns the leader election times, with the defaults when the
// file sets none.
func (p Platform) Election() LeaderElection {
	if p.LeaderElection == nil {
		return defaultLeaderElection()
	}
	return *p.LeaderElection
}

// LeaderElection times the controller's leader Lease, as client-go's
// leader election does: a leader that cannot renew within RenewDeadline
// stops leading, and a candidate takes over once the Lease has not been
// renewed for LeaseDuration.
type LeaderElection struct {
	LeaseDuration Duration `yaml:"leaseDuration"`
	RenewDeadline Duration `yaml:"renewDeadline"`
	RetryPeriod   Duration `yaml:"retryPeriod"`
}

// Platform kinds.
const (
	PlatformLocal      = "local"
	PlatformKubernetes = "kubernetes"
)

// Collector is the log collector.
type Collector struct {
	// Paths are the log roots to tail; empty means the platform's own root.
	Paths []string `yaml:"paths,omitempty"`
	// MaxLineBytes caps one log line; longer lines are truncated with a marker.
	MaxLineBytes ByteSize `yaml:"maxLineBytes"`
	// Listen is where `opshub collector` serves its node API (host:port);
	// empty means DefaultCollectorListen (see NodeListen).
	Listen string `yaml:"listen,omitempty"`
	// Advertise is the node API's URL as the controller reaches it; empty
	// means http://$POD_IP:<port of Listen>.
	Advertise string `yaml:"advertise,omitempty"`
	// Kubelet is where `opshub collector` reads container metrics.
	Kubelet Kubelet `yaml:"kubelet,omitempty"`
}

// DefaultCollectorListen is where `opshub collector` serves its node API
// when collector.listen is not set. It is applied by NodeListen rather than
// by Default, so that configs that do not run a collector print as before.
const DefaultCollectorListen = ":7421"

// NodeListen returns collector.listen, or its default.
func (c Collector) NodeListen() string {
	if c.Listen == "" {
		return DefaultCollectorListen
	}
	return c.Listen
}

// Kubelet is the node's kubelet as the collector reaches it. Empty fields
// take the in-cluster defaults: https://$NODE_IP:10250 and the pod's
// service account token and CA.
type Kubelet struct {
	URL string `yaml:"url,omitempty"`
	// CAFile verifies the kubelet's serving certificate.
	CAFile string `yaml:"caFile,omitempty"`
	// InsecureSkipVerify skips that verification (self-signed kubelet
	// certificates).
	InsecureSkipVerify bool `yaml:"insecureSkipVerify,omitempty"`
	// TokenFile holds the bearer token; it is read before every scrape,
	// since projected service account tokens rotate.
	TokenFile string `yaml:"tokenFile,omitempty"`
}
