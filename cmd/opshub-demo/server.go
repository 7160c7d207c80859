package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"time"
)

// newServer routes the demo's endpoints. Every response carries the
// instance name in X-Opshub-Instance, so that tests of the front proxy can
// tell which instance answered any request.
func (d *Demo) newServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.serveHello)
	mux.HandleFunc("GET /healthz", d.serveHealthz)
	mux.HandleFunc("GET /ready", d.serveReady)
	mux.HandleFunc("GET /metrics", d.serveMetrics)
	mux.HandleFunc("GET /control", d.serveControl)
	mux.HandleFunc("POST /control", d.serveControl)
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d.handlers.Add(1)
			defer d.handlers.Done()
			d.requests.Add(1)
			w.Header().Set("X-Opshub-Instance", d.cfg.instance)
			if !d.cfg.accessLog {
				mux.ServeHTTP(w, r)
				return
			}
			start := d.now()
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			mux.ServeHTTP(rec, r)
			d.stdout.text(fmt.Sprintf("%s %s %d %s", r.Method, r.URL.RequestURI(), rec.status, d.now().Sub(start).Round(time.Microsecond)))
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(d.stderr, "http: ", 0),
	}
}

func (d *Demo) serveHello(w http.ResponseWriter, r *http.Request) {
	set, _ := d.knobs.get()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello from %s (%s)\n", d.cfg.instance, set.greeting)
}

func (d *Demo) serveHealthz(w http.ResponseWriter, r *http.Request) {
	if set, _ := d.knobs.get(); !set.healthy {
		http.Error(w, "unhealthy", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (d *Demo) serveReady(w http.ResponseWriter, r *http.Request) {
	if set, _ := d.knobs.get(); !set.isReady(d.now()) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func (d *Demo) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	d.writeMetrics(w)
}

// serveControl changes knobs and performs actions, then replies with the
// settings. Nothing is applied unless every parameter is valid. exit= and
// crash= take effect after the reply has been sent.
func (d *Demo) serveControl(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	req, err := parseControl(r.Form)
	if err == nil {
		err = d.checkControl(req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, err)
		return
	}
	if err := d.applyControl(r.Context(), req); err != nil {
		writeJSON(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, d.status())
	if req.exit != nil {
		http.NewResponseController(w).Flush()
		d.requestExit(*req.exit)
	}
}

// apiError is the error body of the opshub API: {"error": …, "field": …}.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	if err, ok := v.(error); ok {
		v = toAPIError(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// statusRecorder remembers the status code a handler wrote, for the access
// log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
