package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
)

// collectorLister lists the live collectors; *kubernetes.CollectorWatch
// satisfies it.
type collectorLister interface {
	Live() []kubernetes.CollectorEndpoint
}

// collectorRequestTimeout bounds one request to a collector.
const collectorRequestTimeout = 10 * time.Second

// collectorHTTPClient is the client the controller asks collectors with.
// Collectors answer on the cluster network; no request may take long.
func collectorHTTPClient() *http.Client {
	return &http.Client{Timeout: collectorRequestTimeout}
}

// samplePuller feeds the controller's metrics store from the collectors: it
// asks every live collector for the samples its node recorded since the
// last answer (GET /api/v1/node/samples?since=…), every interval.
type samplePuller struct {
	collectors collectorLister
	store      *metrics.Store
	http       *http.Client
	token      func() (string, error)
	interval   time.Duration
	onSamples  func([]model.Sample)
	// services, when set, gives every instance's restart count, which
	// the kubelet's cAdvisor does not report: the puller records it as
	// the restarts series next to the collectors' samples.
	services serviceLister
	log      *slog.Logger
	now      func() time.Time

	pulls *prometheus.CounterVec

	mu    sync.Mutex
	since map[string]time.Time // by node: the cursor the collector gave last
}

func newSamplePuller(collectors collectorLister, store *metrics.Store, token func() (string, error), interval time.Duration, onSamples func([]model.Sample), reg prometheus.Registerer, log *slog.Logger) (*samplePuller, error) {
	p := &samplePuller{
		collectors: collectors, store: store, http: collectorHTTPClient(), token: token,
		interval: interval, onSamples: onSamples, log: log.With("component", "collector-samples"), now: time.Now,
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_controller_sample_pulls_total",
			Help: "Requests for node samples sent to collectors, by result (ok or error).",
		}, []string{"result"}),
		since: map[string]time.Time{},
	}
	if reg != nil {
		if err := reg.Register(p.pulls); err != nil {
			return nil, fmt.Errorf("register sample pull metrics: %w", err)
		}
	}
	return p, nil
}

// Run pulls at once and then every interval until ctx ends.
func (p *samplePuller) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.Pull(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pull asks every live collector once, in parallel, and stores what they
// answered. A collector that fails is asked again from the same cursor
// next time, so its samples are not lost while it holds them.
func (p *samplePuller) Pull(ctx context.Context) {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []model.Sample
	)
	for _, c := range p.collectors.Live() {
		wg.Go(func() {
			p.mu.Lock()
			since := p.since[c.Node]
			p.mu.Unlock()
			samples, next, err := p.pull(ctx, c, since)
			if err != nil {
				p.pulls.WithLabelValues("error").Inc()
				if ctx.Err() == nil {
					p.log.Warn("pulling node samples failed", "node", c.Node, "url", c.URL, "err", err)
				}
				return
			}
			p.pulls.WithLabelValues("ok").Inc()
			mu.Lock()
			got = append(got, samples...)
			mu.Unlock()
			p.mu.Lock()
			p.since[c.Node] = next
			p.mu.Unlock()
		})
	}
	wg.Wait()
	got = append(got, p.restarts(ctx)...)
	p.store.Add(got...)
	if p.onSamples != nil && len(got) > 0 {
		p.onSamples(got)
	}
	p.store.Prune(p.now())
}

// restarts samples every instance's restart count from the platform, for
// the instances that have started (a pending pod has no series yet).
func (p *samplePuller) restarts(ctx context.Context) []model.Sample {
	if p.services == nil {
		return nil
	}
	svcs, err := p.services.Services(ctx)
	if err != nil {
		return nil
	}
	now := p.now()
	var out []model.Sample
	for _, svc := range svcs {
		for _, in := range svc.Instances {
			if in.Status == model.StatusStaging {
				continue
			}
			out = append(out, model.Sample{
				Ref:  model.Ref{Project: svc.Project, Service: svc.Name, Instance: in.Name, Container: in.Container},
				Type: model.MetricRestarts, Time: now, Value: float64(in.Restarts),
			})
		}
	}
	return out
}

// nodeSamples is the body of a collector's GET /api/v1/node/samples.
type nodeSamples struct {
	Node    string         `json:"node"`
	Samples []model.Sample `json:"samples"`
	Next    time.Time      `json:"next"`
}

func (p *samplePuller) pull(ctx context.Context, c kubernetes.CollectorEndpoint, since time.Time) ([]model.Sample, time.Time, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.Format(time.RFC3339Nano))
	}
	var body nodeSamples
	if err := getCollector(ctx, p.http, p.token, c.URL, "/api/v1/node/samples", q, &body); err != nil {
		return nil, since, err
	}
	if body.Next.IsZero() {
		body.Next = since
	}
	return body.Samples, body.Next, nil
}

// collectorRequest builds a request to a collector's node API with the
// controller's own bearer token.
func collectorRequest(ctx context.Context, token func() (string, error), base, path string, q url.Values) (*http.Request, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("collector URL %q: %w", base, err)
	}
	u = u.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if token != nil {
		t, err := token()
		if err != nil {
			return nil, err
		}
		if t != "" {
			req.Header.Set("Authorization", "Bearer "+t)
		}
	}
	return req, nil
}

// getCollector sends one GET to a collector and decodes its JSON answer.
func getCollector(ctx context.Context, client *http.Client, token func() (string, error), base, path string, q url.Values, out any) error {
	req, err := collectorRequest(ctx, token, base, path, q)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return collectorError(path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", path, err)
	}
	return nil
}

// collectorAPIError is an error a collector answered.
type collectorAPIError struct {
	path    string
	code    int
	message string
}

func (e *collectorAPIError) Error() string {
	return fmt.Sprintf("%s: collector answered %d: %s", e.path, e.code, e.message)
}

func collectorError(path string, code int, body []byte) error {
	var e struct{ Error string }
	msg := string(body)
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &collectorAPIError{path: path, code: code, message: msg}
}
