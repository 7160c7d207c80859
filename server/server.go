package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/ui"
)

// ServiceReader is what the API needs to list services. platform.Platform
// satisfies it.
type ServiceReader interface {
	Services(ctx context.Context) ([]model.Service, error)
	Service(ctx context.Context, project, name string) (model.Service, error)
}

// ReadyFunc reports whether opshub is ready to serve, and if not, why.
type ReadyFunc func() (ready bool, reason string)

// Options configures a Server.
type Options struct {
	// Listen is the host:port to listen on when Run is used.
	Listen string
	// Tokens are the accepted bearer tokens. With none, only loopback
	// clients are served.
	Tokens   []Token
	Services ServiceReader
	Ready    ReadyFunc
	// Gatherer is exposed on /metrics; Registerer receives the server's own
	// request metrics. Both may be nil.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// Logs answers the log endpoints; without it they answer 501.
	Logs LogReader
	// Alerting serves alerts and deliveries; nil answers empty lists.
	Alerting AlertReader
	// Sinks lists the log sinks and pauses and resumes them; nil answers
	// an empty list.
	Sinks SinkController
	// Collector answers GET /api/v1/collector: whether the log collector
	// reads, and if not, why. Nil (the controller runs none) answers 404.
	Collector CollectorStatusReader
	// Reloader serves POST /api/v1/config/reload; nil answers 404.
	Reloader ConfigReloader
	// Spend answers /api/v1/spend; nil when spend is not running.
	Spend SpendReader
	// Autoscaling answers /api/v1/autoscaling; nil when no policy runs.
	Autoscaling AutoscalingReader
	Logger      *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown; default 10s.
	ShutdownTimeout time.Duration

	// Metrics answers GET /api/v1/metrics; nil answers 404.
	Metrics MetricsReader

	// Scaler serves POST /api/v1/services/{project}/{service}/scale; nil
	// answers 501. Autoscaled, when set, names the services an autoscaling
	// policy manages, so that the answer can warn.
	Scaler     Scaler
	Autoscaled AutoscaledFunc

	// Releases serves deploy, rollback and the release history; nil
	// answers 501 (and an empty history).
	Releases Releaser
	// Continuous is paused by a deploy or rollback through the API, and
	// served at …/continuous; nil: no service has continuous deployment.
	Continuous Continuous

	// NodeSamples answers GET /api/v1/node/samples (collectors); nil
	// answers 404.
	NodeSamples NodeSampleReader
	// UI serves the web UI (package ui) at / and every path that is not
	// the API's: opshub run and the controller's leader set it.
	UI bool

	// Exec serves the exec and forward WebSockets (scope exec).
	Exec ExecOptions

	// TokenReviewer, when set, replaces Tokens: loopback clients are
	// served, others need a token it allows (collectors).
	TokenReviewer TokenReviewer

	// Jobs serves /api/v1/jobs; nil answers an empty list.
	Jobs JobRunner

	// Flows serves /api/v1/flows and /hooks/flows; nil answers an empty
	// list and 404s.
	Flows FlowRunner

	// Limits bounds clients: timeouts, body sizes, log queries and live
	// tails; zero fields take DefaultLimits'.
	Limits Limits

	// Pprof serves the Go runtime's profiles (net/http/pprof) at
	// /debug/pprof/ under the admin scope (server.pprof); off by default.
	Pprof bool
}

// Server serves opshub's HTTP API.
type Server struct {
	opts     Options
	auth     *authenticator
	handler  http.Handler
	log      *slog.Logger
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	exec     *execSessions
	tails    tailSlots
}

// New builds a Server. It does not listen; call Run or Serve.
func New(opts Options) (*Server, error) {
	if opts.Services == nil {
		return nil, errors.New("server: no service reader")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.Exec.IdleTimeout <= 0 {
		opts.Exec.IdleTimeout = DefaultExecIdleTimeout
	}
	if opts.Exec.MaxPerInstance <= 0 {
		opts.Exec.MaxPerInstance = DefaultExecMaxPerInstance
	}
	if opts.Ready == nil {
		opts.Ready = func() (bool, string) { return true, "" }
	}
	opts.Limits = opts.Limits.withDefaults()
	s := &Server{
		opts: opts,
		auth: newAuthenticator(opts.Tokens),
		log:  opts.Logger.With("component", "server"),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_http_requests_total",
			Help: "HTTP requests served by the opshub API, by route and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opshub_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests of the opshub API, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler"}),
		exec: newExecSessions(),
	}
	if opts.Registerer != nil {
		for _, c := range append([]prometheus.Collector{s.requests, s.duration, serviceCollector{opts.Services}}, s.exec.collectors()...) {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("server: register metrics: %w", err)
			}
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on Options.Listen and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.opts.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully within
// ShutdownTimeout using a fresh context. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := NewHTTPServer(s.handler, s.opts.Limits, s.log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving API", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: serve: %w", err)
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, name string, scope Scope, h http.HandlerFunc) {
		if longLivedRoutes[name] {
			h = longLived(h)
		}
		mux.Handle(pattern, s.instrument(name, s.authorized(scope, limitBody(bodyLimit(name, pattern), h))))
	}
	mux.Handle("GET /healthz", s.instrument("healthz", http.HandlerFunc(s.healthz)))
	mux.Handle("GET /readyz", s.instrument("readyz", http.HandlerFunc(s.readyz)))

	handle("GET /metrics", "metrics", ScopeRead, s.metrics)
	handle("GET /api/v1/services", "services", ScopeRead, s.listServices)
	handle("GET /api/v1/services/{project}/{service}", "service", ScopeRead, s.getService)
	handle("GET /api/v1/attention", "attention", ScopeRead, s.listAttention)
	handle("GET /api/v1/logs", "logs", ScopeRead, s.queryLogs)
	handle("GET /api/v1/logs/tail", "logs_tail", ScopeRead, s.tailLogs)
	handle("POST /api/v1/services/{project}/{service}/scale", "service_scale", ScopeDeploy, s.scaleService)
	handle("POST /api/v1/services/{project}/{service}/deploy", "service_deploy", ScopeDeploy, s.deployService)
	handle("POST /api/v1/services/{project}/{service}/rollback", "service_rollback", ScopeDeploy, s.rollbackService)
	handle("GET /api/v1/services/{project}/{service}/releases", "service_releases", ScopeRead, s.listReleases)
	handle("GET /api/v1/services/{project}/{service}/env", "service_env", ScopeRead, s.serviceEnv)
	handle("GET /api/v1/services/{project}/{service}/continuous", "service_continuous", ScopeRead, s.getContinuous)
	handle("POST /api/v1/services/{project}/{service}/continuous/resume", "service_continuous_resume", ScopeDeploy, s.resumeContinuous)
	handle("GET /api/v1/alerts", "alerts", ScopeRead, s.listAlerts)
	handle("GET /api/v1/deliveries", "deliveries", ScopeRead, s.listDeliveries)
	handle("POST /api/v1/deliveries/{id}/resend", "deliveries_resend", ScopeAdmin, s.resendDelivery)
	handle("GET /api/v1/spend", "spend", ScopeRead, s.getSpend)
	handle("GET /api/v1/autoscaling", "autoscaling", ScopeRead, s.getAutoscaling)
	handle("GET /api/v1/metrics", "metrics_query", ScopeRead, s.queryMetrics)
	handle("GET /api/v1/sinks", "sinks", ScopeRead, s.listSinks)
	handle("GET /api/v1/collector", "collector", ScopeRead, s.collectorStatus)
	handle("POST /api/v1/sinks/{name}/pause", "sinks_pause", ScopeDeploy, s.pauseSink)
	handle("POST /api/v1/sinks/{name}/resume", "sinks_resume", ScopeDeploy, s.resumeSink)
	handle("POST /api/v1/config/reload", "config_reload", ScopeAdmin, s.reloadConfig)
	handle("GET /api/v1/services/{project}/{service}/instances/{instance}/exec", "exec", ScopeExec, s.execSession)
	handle("GET /api/v1/services/{project}/{service}/instances/{instance}/forward", "forward", ScopeExec, s.forwardSession)
	handle("GET /api/v1/node/samples", "node_samples", ScopeRead, s.nodeSamples)
	s.jobRoutes(handle)
	s.flowRoutes(mux, handle)
	if s.opts.Pprof {
		pprofRoutes(handle)
	}
	if s.opts.UI {
		// The page and its assets hold no data; what they show comes
		// from the API, under its tokens.
		mux.Handle("/", s.instrument("ui", limitBody(maxBodyRead, ui.Handler().ServeHTTP)))
	}
	mux.Handle("/api/", s.instrument("unknown", s.authorized(ScopeRead, limitBody(maxBodyRead, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path), "")
	}))))
	return mux
}

// authorized wraps h so that it runs only for requests allowed to use scope.
func (s *Server) authorized(scope Scope, h http.HandlerFunc) http.Handler {
	if s.opts.TokenReviewer != nil {
		return s.authorizeReviewed(scope, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, who := s.auth.authorize(r, scope)
		switch res {
		case authOK:
			h(w, r.WithContext(withCaller(r.Context(), who)))
		case authNotLoopback:
			writeError(w, http.StatusForbidden, "no API tokens are configured, so only loopback clients are served; add server.tokens to allow remote clients", "")
		case authMissing:
			w.Header().Set("WWW-Authenticate", `Bearer realm="opshub"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token", "")
		case authInvalid:
			w.Header().Set("WWW-Authenticate", `Bearer realm="opshub", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid bearer token", "")
		case authForbidden:
			writeError(w, http.StatusForbidden, fmt.Sprintf("token %q lacks the %q scope", who, scope), "")
		}
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (flushes
// for streaming responses).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.requests.WithLabelValues(name, strconv.Itoa(rec.code)).Inc()
		s.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	})
}

// metrics writes the registry's families in the text format.
func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if s.opts.Gatherer != nil {
		families, err := s.opts.Gatherer.Gather()
		if err != nil {
			s.log.Warn("gathering metrics", "err", err)
		}
		enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				s.log.Warn("encoding metrics", "err", err)
				return
			}
		}
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok, reason := s.opts.Ready(); !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %s\n", reason)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
