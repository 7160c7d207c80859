package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/server"
)

// staticCollectors is a fixed list of live collectors.
type staticCollectors []kubernetes.CollectorEndpoint

func (s staticCollectors) Live() []kubernetes.CollectorEndpoint { return s }

// nodeRing is a collector's sample ring as its node API serves it: every
// sample recorded after since, and the newest one's time as the cursor.
type nodeRing struct {
	node string
	mu   sync.Mutex
	held []model.Sample
}

func (r *nodeRing) SamplesSince(since time.Time) (string, []model.Sample, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []model.Sample
	next := since
	for _, s := range r.held {
		if s.Time.After(since) {
			out = append(out, s)
			next = s.Time
		}
	}
	return r.node, out, next
}

func (r *nodeRing) record(s model.Sample) {
	r.mu.Lock()
	r.held = append(r.held, s)
	r.mu.Unlock()
}

// noServices serves no services; the collector's node API needs none.
type noServices struct{}

func (noServices) Services(context.Context) ([]model.Service, error) { return nil, nil }
func (noServices) Service(_ context.Context, p, n string) (model.Service, error) {
	return model.Service{}, fmt.Errorf("service %s/%s: %w", p, n, platform.ErrNotFound)
}

// collectorAPI serves a collector's node API with the real server, and
// records the bearer tokens it was asked with.
func collectorAPI(t *testing.T, opts server.Options) (*httptest.Server, *[]string) {
	t.Helper()
	if opts.Services == nil {
		opts.Services = noServices{}
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		tokens []string
	)
	h := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, &tokens
}

func cpuSample(instance string, at time.Time, v float64) model.Sample {
	return model.Sample{Ref: model.Ref{Project: "shop", Service: "web", Instance: instance, Container: "web"}, Type: model.MetricCPU, Time: at, Value: v}
}

// A new leader's first pull asks every collector for the hour it holds: a
// cluster of 1,000 nodes must not be asked all at once.
func TestSamplePullerAsksABoundedNumberOfCollectorsAtOnce(t *testing.T) {
	var (
		mu                    sync.Mutex
		inFlight, most, asked int
		held                  = make(chan struct{})
		release               sync.Once
	)
	let := func() { release.Do(func() { close(held) }) }
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		asked++
		most = max(most, inFlight)
		switch {
		case inFlight > pullsInFlight:
			let() // over the bound: seen, no need to hold on
		case inFlight == pullsInFlight:
			// Hold the answers long enough for more asks to arrive if
			// the puller did not wait for a free slot.
			time.AfterFunc(time.Second, let)
		}
		mu.Unlock()
		<-held
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"node": "n", "samples": [], "next": %q}`, time.Now().Format(time.RFC3339Nano))
	}))
	defer api.Close()
	var nodes staticCollectors
	for i := range 3 * pullsInFlight {
		nodes = append(nodes, kubernetes.CollectorEndpoint{Node: fmt.Sprintf("node-%d", i), URL: api.URL})
	}
	p, err := newSamplePuller(nodes, metrics.NewStore(metrics.DefaultRetention, time.Second), func() (string, error) { return "t", nil }, time.Second, nil, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Pull(context.Background())
	if most != pullsInFlight {
		t.Fatalf("%d collectors were asked at once, want at most (and, with %d to ask, exactly) %d", most, len(nodes), pullsInFlight)
	}
	if asked != len(nodes) {
		t.Fatalf("%d collectors were asked, want every one of the %d", asked, len(nodes))
	}
}

func TestSamplePullerFeedsTheStoreFromEveryCollector(t *testing.T) {
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	a, b := &nodeRing{node: "node-a"}, &nodeRing{node: "node-b"}
	a.record(cpuSample("web-1", base, 0.5))
	b.record(cpuSample("web-2", base, 0.25))
	apiA, tokensA := collectorAPI(t, server.Options{NodeSamples: a})
	apiB, _ := collectorAPI(t, server.Options{NodeSamples: b})
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error": "restarting"}`, http.StatusServiceUnavailable)
	}))
	defer down.Close()

	store := metrics.NewStore(metrics.DefaultRetention, time.Second)
	var forwarded []model.Sample
	p, err := newSamplePuller(staticCollectors{
		{Node: "node-a", URL: apiA.URL}, {Node: "node-b", URL: apiB.URL}, {Node: "node-c", URL: down.URL},
	}, store, func() (string, error) { return "controller-token", nil }, time.Second,
		func(s []model.Sample) { forwarded = append(forwarded, s...) }, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	values := func() map[string][]float64 {
		out := map[string][]float64{}
		for _, s := range store.Query(metrics.Query{Project: "shop", Service: "web", Types: []model.MetricType{model.MetricCPU}, From: base.Add(-time.Hour), To: base.Add(time.Hour)}) {
			for _, pt := range s.Points {
				out[s.Instance] = append(out[s.Instance], pt.Value)
			}
		}
		return out
	}

	ctx := context.Background()
	p.Pull(ctx)
	if got := values(); !slices.Equal(got["web-1"], []float64{0.5}) || !slices.Equal(got["web-2"], []float64{0.25}) {
		t.Fatalf("after the first pull the store holds %v", got)
	}

	t.Run("the next pull asks from the cursor and gets only what is new", func(t *testing.T) {
		a.record(cpuSample("web-1", base.Add(15*time.Second), 0.75))
		p.Pull(ctx)
		if got := values(); !slices.Equal(got["web-1"], []float64{0.5, 0.75}) || !slices.Equal(got["web-2"], []float64{0.25}) {
			t.Errorf("store holds %v, want web-1 [0.5 0.75] and web-2 [0.25] once each", got)
		}
		if len(forwarded) != 3 {
			t.Errorf("forwarded %d samples to remote write, want 3", len(forwarded))
		}
	})
	t.Run("collectors are asked with the controller's token", func(t *testing.T) {
		if len(*tokensA) == 0 || (*tokensA)[0] != "Bearer controller-token" {
			t.Errorf("authorization headers %q", *tokensA)
		}
	})
	t.Run("a failing collector is counted", func(t *testing.T) {
		if n := counterValue(t, p.pulls.WithLabelValues("error")); n != 2 {
			t.Errorf("%v failed pulls, want 2 (node-c twice)", n)
		}
	})
}

// fixedLogs is a node's log reader over fixed lines.
type fixedLogs []model.LogRecord

func (f fixedLogs) Query(_ context.Context, q collector.Query) ([]model.LogRecord, error) {
	var out []model.LogRecord
	for _, r := range f {
		if r.Project == q.Project && r.Service == q.Service {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("logs of %s/%s: %w", q.Project, q.Service, collector.ErrNoLogs)
	}
	if q.Direction == collector.Backward {
		slices.Reverse(out)
	}
	return out[:min(len(out), q.Limit)], nil
}

func (f fixedLogs) Follow(ctx context.Context, q collector.Query, send func(model.LogRecord) error) error {
	for _, r := range f {
		if err := send(r); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// placedServices has one service whose instances run on node-a and node-b.
type placedServices struct{ noServices }

func (placedServices) Service(_ context.Context, p, n string) (model.Service, error) {
	if p == "shop" && n == "web" {
		return model.Service{Project: "shop", Name: "web", Instances: []model.Instance{
			{Name: "web-1", Node: "node-a"}, {Name: "web-2", Node: "node-b"},
		}}, nil
	}
	return model.Service{}, fmt.Errorf("service %s/%s: %w", p, n, platform.ErrNotFound)
}

func logLine(instance string, at time.Time, text string) model.LogRecord {
	return model.LogRecord{Time: at, Ref: model.Ref{Project: "shop", Service: "web", Instance: instance, Container: "web"}, Stream: "stdout", Log: text}
}

func TestCollectorLogsMergeTheNodesByTime(t *testing.T) {
	base := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	nodeA, _ := collectorAPI(t, server.Options{Logs: fixedLogs{
		logLine("web-1", base.Add(1*time.Second), "a1"), logLine("web-1", base.Add(3*time.Second), "a3"), logLine("web-1", base.Add(5*time.Second), "a5"),
	}})
	nodeB, _ := collectorAPI(t, server.Options{Logs: fixedLogs{
		logLine("web-2", base.Add(2*time.Second), "b2"), logLine("web-2", base.Add(4*time.Second), "b4"),
	}})
	// A collector on a node that hosts none of the service's instances is
	// never asked.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the collector of node-z was asked %s", r.URL)
	}))
	defer other.Close()
	logs := &collectorLogs{
		services:   placedServices{},
		collectors: staticCollectors{{Node: "node-a", URL: nodeA.URL}, {Node: "node-b", URL: nodeB.URL}, {Node: "node-z", URL: other.URL}},
	}
	texts := func(recs []model.LogRecord) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Log)
		}
		return out
	}
	ctx := context.Background()
	tests := []struct {
		name  string
		q     collector.Query
		want  []string
		noLog bool
	}{
		{name: "backward by default, newest first", q: collector.Query{Project: "shop", Service: "web"}, want: []string{"a5", "b4", "a3", "b2", "a1"}},
		{name: "forward with a limit keeps the oldest", q: collector.Query{Project: "shop", Service: "web", Direction: collector.Forward, Limit: 3}, want: []string{"a1", "b2", "a3"}},
		{name: "backward with a limit keeps the newest", q: collector.Query{Project: "shop", Service: "web", Direction: collector.Backward, Limit: 2}, want: []string{"a5", "b4"}},
		{name: "an unknown service has no logs", q: collector.Query{Project: "shop", Service: "nope"}, noLog: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := logs.Query(ctx, tc.q)
			if tc.noLog {
				if !errors.Is(err, collector.ErrNoLogs) {
					t.Errorf("err = %v, want ErrNoLogs", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(recs); !slices.Equal(got, tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("without a live collector on the service's nodes there are no logs", func(t *testing.T) {
		l := &collectorLogs{services: placedServices{}, collectors: staticCollectors{{Node: "node-z", URL: other.URL}}}
		if _, err := l.Query(ctx, collector.Query{Project: "shop", Service: "web"}); !errors.Is(err, collector.ErrNoLogs) {
			t.Errorf("err = %v, want ErrNoLogs", err)
		}
	})
	t.Run("a live tail follows every node", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var (
			mu  sync.Mutex
			got []string
		)
		done := make(chan error, 1)
		go func() {
			done <- logs.Follow(ctx, collector.Query{Project: "shop", Service: "web"}, func(r model.LogRecord) error {
				mu.Lock()
				got = append(got, r.Log)
				mu.Unlock()
				return nil
			})
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tail delivered %d lines, want 5", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow = %v after its context ended", err)
		}
		mu.Lock()
		slices.Sort(got)
		mu.Unlock()
		if !slices.Equal(got, []string{"a1", "a3", "a5", "b2", "b4"}) {
			t.Errorf("tail lines %q", got)
		}
	})
}

func TestFollowerAnswersWithTheLeadersName(t *testing.T) {
	elector := electedElsewhere("controller-b")
	h := &server.RoleHandler{Elector: elector, PlatformReady: func() bool { return true }}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ok: following controller-b\n" {
		t.Errorf("/readyz %d %q, want 200 following controller-b", code, body)
	}
	code, body := get("/api/v1/services")
	var e struct{ Error, Leader string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || code != 503 || e.Leader != "controller-b" {
		t.Errorf("a follower's API answered %d %s, want 503 naming controller-b", code, body)
	}

	t.Run("the leader serves its API", func(t *testing.T) {
		h.Lead(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("services")) }))
		if code, body := get("/api/v1/services"); code != 200 || body != "services" {
			t.Errorf("leader answered %d %q", code, body)
		}
		if code, body := get("/readyz"); code != 200 || body != "ok: leading\n" {
			t.Errorf("/readyz %d %q", code, body)
		}
		h.Follow()
		if code, _ := get("/api/v1/services"); code != 503 {
			t.Errorf("after leading the API answered %d, want 503", code)
		}
	})
	t.Run("not ready before the caches are filled", func(t *testing.T) {
		h := &server.RoleHandler{Elector: elector, PlatformReady: func() bool { return false }}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != 503 {
			t.Errorf("/readyz %d, want 503", rec.Code)
		}
	})
}

// electedElsewhere is a candidate that sees another leader.
type electedElsewhere string

func (e electedElsewhere) Identity() string { return "controller-a" }
func (e electedElsewhere) Leader() string   { return string(e) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// crashingServices has one instance in CrashLoopBackOff and one running.
type crashingServices struct{ noServices }

func (crashingServices) Services(context.Context) ([]model.Service, error) {
	return []model.Service{{Project: "shop", Name: "worker", Instances: []model.Instance{
		{Name: "worker-1", Container: "worker", Status: model.StatusCrashing, Restarts: 5, Backoff: "1m20s", LastExit: &model.Exit{Code: 1}},
		{Name: "worker-2", Container: "worker", Status: model.StatusRunning},
	}}}, nil
}

// channelEvents is a platform's event stream the test feeds.
type channelEvents chan model.InstanceEvent

func (c channelEvents) Subscribe(ctx context.Context) <-chan model.InstanceEvent {
	out := make(chan model.InstanceEvent)
	go func() {
		defer close(out)
		for {
			select {
			case ev := <-c:
				out <- ev
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func TestTakeoverReplaysCrashLoopsUnderWay(t *testing.T) {
	events := make(channelEvents, 1)
	now := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	tk := &takeover{platform: crashingServices{}, events: events, now: func() time.Time { return now }, subscribed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	ch := tk.Subscribe(ctx)
	select {
	case <-tk.subscribed:
	default:
		t.Fatal("subscribed is not closed after Subscribe")
	}
	first := <-ch
	want := model.InstanceEvent{
		Kind: model.InstanceBackoff, Time: now, Status: model.StatusCrashing, Restarts: 5,
		Ref:     model.Ref{Project: "shop", Service: "worker", Instance: "worker-1", Container: "worker"},
		Backoff: 80 * time.Second, Reason: "CrashLoopBackOff", Exit: &model.Exit{Code: 1},
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first event %+v, want %+v", first, want)
	}
	events <- model.InstanceEvent{Kind: model.InstanceStarted, Ref: model.Ref{Project: "shop", Service: "worker", Instance: "worker-2"}}
	if ev := <-ch; ev.Kind != model.InstanceStarted || ev.Ref.Instance != "worker-2" {
		t.Errorf("then %+v, want the platform's started event of worker-2", ev)
	}
	cancel()
	for range ch {
	}
}

func TestFollowerPassesRequestsToTheLeader(t *testing.T) {
	var seen http.Header
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"path": %q}`, r.URL.RequestURI())
	}))
	defer leader.Close()
	target, _ := url.Parse(leader.URL)
	h := &server.RoleHandler{
		Elector: electedElsewhere("controller-b"), PlatformReady: func() bool { return true },
		LeaderURL: func(id string) (*url.URL, bool) { return target, id == "controller-b" },
	}
	req := httptest.NewRequest("GET", "/api/v1/logs?project=shop&service=web", nil)
	req.Header.Set("Authorization", "Bearer ci-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != `{"path": "/api/v1/logs?project=shop&service=web"}` {
		t.Errorf("proxied answer %d %s", rec.Code, rec.Body)
	}
	if seen.Get("Authorization") != "Bearer ci-token" || seen.Get(server.ProxiedHeader) != "controller-a" {
		t.Errorf("the leader saw headers %v, want the client's token and the follower's mark", seen)
	}

	t.Run("a follower serves its own /metrics", func(t *testing.T) {
		h := &server.RoleHandler{Elector: electedElsewhere("controller-b"), PlatformReady: func() bool { return true }, LeaderURL: h.LeaderURL,
			Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("own_metric 1\n")) })}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Body.String() != "own_metric 1\n" {
			t.Errorf("/metrics answered %q, want the follower's own", rec.Body)
		}
	})
	t.Run("a follower serves its own profiles", func(t *testing.T) {
		own, err := server.New(server.Options{Services: clusterStub{}, Pprof: true})
		if err != nil {
			t.Fatal(err)
		}
		h := &server.RoleHandler{Elector: electedElsewhere("controller-b"), PlatformReady: func() bool { return true }, LeaderURL: h.LeaderURL, Metrics: own.Handler()}
		req := httptest.NewRequest("GET", "/debug/pprof/goroutine?debug=1", nil)
		req.RemoteAddr = "127.0.0.1:4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "goroutine profile") {
			t.Errorf("/debug/pprof/goroutine answered %d %.200s, want the follower's own profile", rec.Code, rec.Body)
		}
	})
	t.Run("a request a follower passed on is not passed on again", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/api/v1/services", nil)
		req.Header.Set(server.ProxiedHeader, "controller-c")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 503 {
			t.Errorf("status %d, want 503", rec.Code)
		}
	})
	t.Run("an unreachable leader is a 503 naming it", func(t *testing.T) {
		gone, _ := url.Parse("http://127.0.0.1:1")
		h := &server.RoleHandler{Elector: electedElsewhere("controller-b"), PlatformReady: func() bool { return true },
			LeaderURL: func(string) (*url.URL, bool) { return gone, true }}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/services", nil))
		var e struct{ Error, Leader string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 503 || e.Leader != "controller-b" {
			t.Errorf("answered %d %s", rec.Code, rec.Body)
		}
	})
}

// cAdvisor has no restart counts: the controller records each started
// instance's count from the platform as its restarts series.
func TestSamplePullerRecordsRestartsFromThePlatform(t *testing.T) {
	store := metrics.NewStore(metrics.DefaultRetention, time.Second)
	p, err := newSamplePuller(staticCollectors{}, store, func() (string, error) { return "", nil }, time.Second, nil, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p.services = clusterStub{svcs: []model.Service{{Project: "shop", Name: "worker", Instances: []model.Instance{
		{Name: "worker-1", Container: "worker", Status: model.StatusCrashing, Restarts: 4},
		{Name: "worker-2", Container: "worker", Status: model.StatusStaging},
	}}}}
	p.Pull(context.Background())
	now := time.Now()
	series := store.Query(metrics.Query{Project: "shop", Service: "worker", Types: []model.MetricType{model.MetricRestarts}, From: now.Add(-time.Minute), To: now.Add(time.Minute)})
	if len(series) != 1 || series[0].Instance != "worker-1" || len(series[0].Points) != 1 || series[0].Points[0].Value != 4 {
		t.Errorf("restarts series = %+v, want worker-1 at 4 (a pending pod has none)", series)
	}
}
