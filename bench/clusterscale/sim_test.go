package clusterscale

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/opshub/opshub/model"
	kube "github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/server"
)

// collectors answers the node API for every simulated node: one server,
// node by path (http://127.0.0.1:port/<node>), each node's pods with the
// samples a collector reports per container every 15 s.
type collectors struct {
	pods *podWatch
	srv  *http.Server
	url  string
}

// sampleTypes are what a collector reports for a container with requests
// and limits (metrics/rate.go).
var sampleTypes = []model.MetricType{
	model.MetricCPU, model.MetricCPURequestPercent, model.MetricCPULimitPercent,
	model.MetricNetworkRx, model.MetricNetworkTx, model.MetricDiskRead, model.MetricDiskWrite,
	model.MetricMemory, model.MetricMemoryLimitPercent, model.MetricMemoryRequestPercent, model.MetricMemoryRSS,
	model.MetricFilesystemUsed, model.MetricRestarts,
	model.MetricCPULimit, model.MetricMemoryLimit, model.MetricCPURequest, model.MetricMemoryRequest,
}

func startCollectors(pods *podWatch) (*collectors, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &collectors{pods: pods, url: "http://" + ln.Addr().String()}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *collectors) close() { _ = c.srv.Close() }

func (c *collectors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	node, path, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch "/" + path {
	case "/api/v1/node/samples":
		c.samples(w, r, node)
	case "/api/v1/logs":
		// The crash notifications' last lines: these pods print nothing.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[]")
	default:
		http.NotFound(w, r)
	}
}

// samples answers as a collector's node API: every sample recorded after
// since, and the time of the newest as next. A collector records every
// 15 s; this one makes up the recordings of the last whole 15 s, and of
// the -history before it when asked with a zero since (a new leader's
// first ask, which a collector that has run for an hour answers with the
// hour it holds).
func (c *collectors) samples(w http.ResponseWriter, r *http.Request, node string) {
	at := time.Now().Truncate(15 * time.Second)
	since, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
	if since.IsZero() {
		since = at.Add(-*history)
	}
	var samples []model.Sample
	pods := c.pods.onNode(node)
	first := at // the oldest recording after since, oldest first as a collector answers
	for first.Add(-15 * time.Second).After(since) {
		first = first.Add(-15 * time.Second)
	}
	for t := first; !t.After(at) && t.After(since); t = t.Add(15 * time.Second) {
		for _, p := range pods {
			ref := model.Ref{Project: p.Namespace, Service: p.Labels["app"], Instance: p.Name, Container: "app"}
			for _, typ := range sampleTypes {
				samples = append(samples, model.Sample{Ref: ref, Type: typ, Time: t, Value: value(p.Name, typ, t)})
			}
		}
	}
	server.WriteNodeSamples(w, node, samples, at, r.URL.Query().Get("form") == "series")
}

// value is what a collector would have recorded for pod's series typ at t,
// the same every time it is asked: requests, limits and restarts constant;
// usage wandering at full precision (cores, bytes/s), memory in whole
// pages; percentages derived from them. So the controller's metrics store
// holds values that compress as real ones do, not constants.
func value(pod string, typ model.MetricType, t time.Time) float64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, pod)
	seed := h.Sum64()
	// u is uniform in [0, 1) for (pod, what, t).
	u := func(what uint64) float64 {
		x := seed ^ what*0x9e3779b97f4a7c15 ^ uint64(t.Unix()/15)*0xbf58476d1ce4e5b9
		x ^= x >> 31
		x *= 0x94d049bb133111eb
		x ^= x >> 29
		return float64(x>>11) / (1 << 53)
	}
	const (
		cpuRequest, cpuLimit = 0.25, 0.5
		memRequest, memLimit = 256 << 20, 512 << 20
		page                 = 4096
	)
	cpu := 0.02 + 0.2*u(1)
	mem := float64((100<<20 + int64(u(2)*(40<<20))) / page * page)
	switch typ {
	case model.MetricCPU:
		return cpu
	case model.MetricCPURequestPercent:
		return cpu / cpuRequest * 100
	case model.MetricCPULimitPercent:
		return cpu / cpuLimit * 100
	case model.MetricMemory:
		return mem
	case model.MetricMemoryRSS:
		return mem - float64(int64(u(3)*(8<<20))/page*page)
	case model.MetricMemoryRequestPercent:
		return mem / memRequest * 100
	case model.MetricMemoryLimitPercent:
		return mem / memLimit * 100
	case model.MetricNetworkRx, model.MetricNetworkTx, model.MetricDiskRead, model.MetricDiskWrite:
		return 50_000 * u(uint64(len(typ))+4)
	case model.MetricFilesystemUsed:
		return float64((1<<20 + t.Unix()%86400*10) / page * page)
	case model.MetricCPURequest:
		return cpuRequest
	case model.MetricCPULimit:
		return cpuLimit
	case model.MetricMemoryRequest:
		return memRequest
	case model.MetricMemoryLimit:
		return memLimit
	}
	return 0 // restarts
}

// register keeps a collector Lease for every node, advertising its path
// on the shared server, as each node's collector does (kube.Registration).
func (c *collectors) register(ctx context.Context, client kubernetes.Interface, nodes int) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	for i := range nodes {
		reg, err := kube.NewRegistration(kube.RegistrationOptions{
			Client: client, Namespace: controllerNamespace, Node: nodeName(i), URL: c.url + "/" + nodeName(i),
		})
		if err != nil {
			return nil, err
		}
		wg.Go(func() { _ = reg.Run(ctx) })
	}
	return &wg, nil
}

// apiCounter is a reverse proxy in front of the API server for the
// controller alone: it counts the controller's requests by verb and
// resource, which the API server's own metrics (apiserver_request_total)
// cannot tell from the simulated cluster's.
type apiCounter struct {
	proxy *httputil.ReverseProxy
	srv   *http.Server
	url   string

	mu     sync.Mutex
	counts map[string]int
}

// It sends every request with token, the controller's identity.
func startAPICounter(apiserver, token string, caPEM []byte) (*apiCounter, error) {
	target, err := url.Parse(apiserver)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the API server's CA is not PEM")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &apiCounter{url: "http://" + ln.Addr().String(), counts: map[string]int{}}
	a.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 100, ForceAttemptHTTP2: true},
		FlushInterval: -1, // watches stream
	}
	a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *apiCounter) close() { _ = a.srv.Close() }

func (a *apiCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	verb, res := classify(r)
	a.mu.Lock()
	a.counts[verb+" "+res]++
	a.mu.Unlock()
	a.proxy.ServeHTTP(w, r)
}

// snapshot copies the counts so far.
func (a *apiCounter) snapshot() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.counts))
	for k, v := range a.counts {
		out[k] = v
	}
	return out
}

// classify names a request's verb and resource as the API server's
// metrics do: get, list, watch, create, update, patch, delete; resource
// with its subresource (pods/status).
func classify(r *http.Request) (verb, res string) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		segs = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		segs = segs[3:]
	default:
		return strings.ToLower(r.Method), "discovery"
	}
	if len(segs) == 0 {
		return strings.ToLower(r.Method), "discovery"
	}
	if segs[0] == "namespaces" && len(segs) >= 3 {
		segs = segs[2:]
	}
	res, rest := segs[0], segs[1:]
	if len(rest) >= 2 {
		res += "/" + rest[1]
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		case len(rest) == 0:
			verb = "list"
		default:
			verb = "get"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	default:
		verb = strings.ToLower(r.Method)
	}
	return verb, res
}

// perMinute is the difference of two snapshots as requests a minute,
// sorted by count.
func perMinute(before, after map[string]int, d time.Duration) []string {
	type row struct {
		key string
		n   int
	}
	var rows []row
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			rows = append(rows, row{k, n})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return b.n - a.n })
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s %.1f/min", r.key, float64(r.n)/d.Minutes())
	}
	return out
}
