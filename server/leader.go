package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
)

// LeaderInfo names this candidate and the leader it last saw;
// kubernetes.Elector satisfies it.
type LeaderInfo interface {
	Identity() string
	Leader() string
}

// RoleHandler fronts the API of a replicated controller: on the leader it
// serves the full API (Lead), on a follower health, readiness and its own
// /metrics, and it passes every other request to the leader's API, or
// answers 503 naming the leader when it cannot reach it.
type RoleHandler struct {
	Elector       LeaderInfo
	PlatformReady func() bool
	// LeaderURL gives the base URL of the leader's API, when it can be
	// reached (it runs in a pod this controller sees); nil never proxies.
	LeaderURL func(identity string) (*url.URL, bool)
	// Metrics serves a follower's own /metrics (with the API's auth), so
	// that scraping each replica shows each process, and its own
	// /debug/pprof/ when server.pprof is on.
	Metrics http.Handler
	leader  atomic.Pointer[http.Handler]
}

// ProxiedHeader marks a request a follower passed to the leader, so that a
// request never goes round between controllers while leadership moves.
const ProxiedHeader = "X-Opshub-Proxied-By"

// Lead serves api: this replica leads.
func (h *RoleHandler) Lead(api http.Handler) { h.leader.Store(&api) }

// Follow stops serving the API: this replica follows.
func (h *RoleHandler) Follow() { h.leader.Store(nil) }

// Leading reports whether this controller serves the leader's API now
// (opshub_controller_leader).
func (h *RoleHandler) Leading() bool { return h.leader.Load() != nil }

func (h *RoleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api := h.leader.Load()
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
		return
	case "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		leader := h.Elector.Leader()
		switch {
		case api != nil:
			_, _ = w.Write([]byte("ok: leading\n"))
		case !h.PlatformReady():
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: the cluster caches are filling\n"))
		case leader == "" || leader == h.Elector.Identity():
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: no leader yet\n"))
		default:
			_, _ = fmt.Fprintf(w, "ok: following %s\n", leader)
		}
		return
	}
	if api != nil {
		(*api).ServeHTTP(w, r)
		return
	}
	if (r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/debug/pprof/")) && h.Metrics != nil {
		h.Metrics.ServeHTTP(w, r)
		return
	}
	leader := h.Elector.Leader()
	known := leader != "" && leader != h.Elector.Identity()
	if known && h.LeaderURL != nil && r.Header.Get(ProxiedHeader) == "" {
		if target, ok := h.LeaderURL(leader); ok {
			h.proxy(w, r, target, leader)
			return
		}
	}
	unavailable(w, h.Elector.Identity(), leader)
}

// proxy passes the request to the leader's API as it is (its bearer token
// included: the leader authorizes it), streaming the answer back.
func (h *RoleHandler) proxy(w http.ResponseWriter, r *http.Request, target *url.URL, leader string) {
	if isLongLivedPath(r.URL.Path) {
		// The leader bounds a tail or a session; this server's
		// deadlines would cut it.
		liftDeadlines(w)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(ProxiedHeader, h.Elector.Identity())
		},
		FlushInterval: -1, // live tails stream
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			unavailable(w, h.Elector.Identity(), leader)
		},
	}
	rp.ServeHTTP(w, r)
}

// unavailable answers 503 naming the leader, when one is known.
func unavailable(w http.ResponseWriter, self, leader string) {
	msg := fmt.Sprintf("this opshub controller (%s) is not the leader and cannot reach the leader %s: ask it, or retry", self, leader)
	if leader == "" || leader == self {
		msg = fmt.Sprintf("this opshub controller (%s) is not the leader and no leader is known yet: retry shortly", self)
		leader = ""
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "2")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(struct {
		Error  string `json:"error"`
		Leader string `json:"leader,omitempty"`
	}{msg, leader})
}
