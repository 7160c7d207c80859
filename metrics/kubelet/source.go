package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

// In-cluster defaults: the pod's service account.
const (
	DefaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// Options configure a Source.
type Options struct {
	// URL of the kubelet, e.g. https://10.0.0.7:10250.
	URL string
	// TokenFile holds the bearer token; read before every scrape, since
	// projected service account tokens rotate. Empty sends none.
	TokenFile string
	// CAFile verifies the kubelet's serving certificate; empty uses the
	// system roots.
	CAFile string
	// InsecureSkipVerify skips verification (kubelets with self-signed
	// serving certificates).
	InsecureSkipVerify bool
	// Client overrides the HTTP client (tests).
	Client *http.Client
	// ServiceOf names the service a pod belongs to; the default strips the
	// ReplicaSet and pod suffixes of Deployment pod names ("web-7f9c4d5b8-x2x9k"
	// → "web") and the ordinal of StatefulSet pods ("db-0" → "db"). The
	// Kubernetes platform passes the pods' owners instead.
	ServiceOf func(namespace, pod string) string
	// Timeout bounds one scrape; default 10s.
	Timeout time.Duration
}

// Source reads one node's kubelet.
type Source struct {
	opts   Options
	client *http.Client
}

var _ metrics.Source = (*Source)(nil)

// New checks the options and builds the HTTP client; it connects to nothing.
func New(opts Options) (*Source, error) {
	if opts.URL == "" {
		return nil, errors.New("kubelet: no URL")
	}
	if opts.ServiceOf == nil {
		opts.ServiceOf = ServiceFromPodName
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	client := opts.Client
	if client == nil {
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify}
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kubelet: CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kubelet: CA file %s holds no PEM certificate", opts.CAFile)
			}
			tlsCfg.RootCAs = pool
		}
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}}
	}
	return &Source{opts: opts, client: client}, nil
}

// Read scrapes /metrics/cadvisor and /stats/summary. A failed summary still
// returns the cAdvisor readings, with the error.
func (s *Source) Read(ctx context.Context, now time.Time) ([]metrics.Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var stats map[containerKey]*containerStats
	err := s.get(ctx, "/metrics/cadvisor", func(r io.Reader) (err error) {
		stats, err = parseCAdvisor(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	readings := s.readings(stats, now)
	var sum *summary
	if err := s.get(ctx, "/stats/summary", func(r io.Reader) (err error) {
		sum, err = parseSummary(r)
		return err
	}); err != nil {
		return readings, err
	}
	return append(addSummary(readings, sum, s.opts.ServiceOf), volumeReadings(sum, s.opts.ServiceOf, now)...), nil
}

func (s *Source) get(ctx context.Context, path string, parse func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(s.opts.URL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("kubelet %s: %w", path, err)
	}
	if s.opts.TokenFile != "" {
		tok, err := os.ReadFile(s.opts.TokenFile)
		if err != nil {
			return fmt.Errorf("kubelet: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("kubelet %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("kubelet %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := parse(resp.Body); err != nil {
		return fmt.Errorf("kubelet %s: %w", path, err)
	}
	return nil
}

// readings turns cAdvisor stats into readings, one per container. The
// pod's network goes to its container when it has one, else to a pod-level
// reading, since it cannot be split between containers.
func (s *Source) readings(stats map[containerKey]*containerStats, now time.Time) []metrics.Reading {
	containers := map[containerKey]int{} // pod key → number of containers
	for k := range stats {
		if k.container != "" {
			containers[containerKey{k.namespace, k.pod, ""}]++
		}
	}
	keys := make([]containerKey, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.namespace+"/"+a.pod+"/"+a.container < b.namespace+"/"+b.pod+"/"+b.container
	})
	var out []metrics.Reading
	for _, k := range keys {
		st := stats[k]
		podKey := containerKey{k.namespace, k.pod, ""}
		ref := model.Ref{Project: k.namespace, Service: s.opts.ServiceOf(k.namespace, k.pod), Instance: k.pod, Container: k.container}
		if k.container == "" {
			// The pod's own cgroup: only its network, and only when it
			// cannot go to a single container.
			if !st.hasNet || containers[podKey] == 1 {
				continue
			}
		}
		rd := metrics.Reading{Ref: ref, Time: now, StartedAt: st.started}
		if !st.time.IsZero() {
			rd.Time = st.time // cAdvisor's own collection time gives exact rates
		}
		if k.container != "" {
			if st.hasCPU {
				rd.CPUSeconds = metrics.Known(st.cpuSeconds)
			}
			if st.hasMem {
				rd.MemoryWorkingSet = metrics.Known(st.workingSet)
			}
			if st.hasRSS {
				rd.MemoryRSS = metrics.Known(st.rss)
			}
			if st.hasDisk {
				rd.DiskReadBytes, rd.DiskWriteBytes = metrics.Known(st.readBytes), metrics.Known(st.writeBytes)
			}
			if st.cpuQuota > 0 && st.cpuPeriod > 0 {
				rd.CPULimit = metrics.Known(st.cpuQuota / st.cpuPeriod)
			}
			// The kubelet sets shares from the request: 1024 per core, and
			// the minimum of 2 when there is no request.
			if st.cpuShares > 2 {
				rd.CPURequest = metrics.Known(st.cpuShares / 1024)
			}
			if st.memoryLimit > 0 && st.memoryLimit < 1<<62 {
				rd.MemoryLimit = metrics.Known(st.memoryLimit)
			}
		}
		net := st
		if k.container != "" && containers[podKey] == 1 {
			net = stats[podKey]
		}
		if net != nil && net.hasNet {
			rd.NetworkRxBytes, rd.NetworkTxBytes = metrics.Known(net.rxBytes), metrics.Known(net.txBytes)
		}
		out = append(out, rd)
	}
	return out
}

// addSummary fills each container's ephemeral storage from the summary.
func addSummary(readings []metrics.Reading, sum *summary, serviceOf func(string, string) string) []metrics.Reading {
	index := map[model.Ref]int{}
	for i, r := range readings {
		index[r.Ref] = i
	}
	for _, p := range sum.Pods {
		for _, c := range p.Containers {
			if c.Rootfs == nil || c.Rootfs.UsedBytes == nil {
				continue
			}
			ref := model.Ref{Project: p.PodRef.Namespace, Service: serviceOf(p.PodRef.Namespace, p.PodRef.Name), Instance: p.PodRef.Name, Container: c.Name}
			if i, ok := index[ref]; ok {
				readings[i].FilesystemUsed = metrics.Known(float64(*c.Rootfs.UsedBytes))
			}
		}
	}
	return readings
}

// volumeReadings reports each pod's volumes, as pod-level readings.
func volumeReadings(sum *summary, serviceOf func(string, string) string, now time.Time) []metrics.Reading {
	var out []metrics.Reading
	for _, p := range sum.Pods {
		var vols []metrics.VolumeReading
		for _, v := range p.Volumes {
			vr := metrics.VolumeReading{Name: v.Name}
			opt := func(p *uint64) metrics.Value {
				if p == nil {
					return metrics.Value{}
				}
				return metrics.Known(float64(*p))
			}
			vr.Used, vr.Capacity, vr.Inodes = opt(v.UsedBytes), opt(v.CapacityBytes), opt(v.InodesUsed)
			vols = append(vols, vr)
		}
		if len(vols) > 0 {
			out = append(out, metrics.Reading{
				Ref:  model.Ref{Project: p.PodRef.Namespace, Service: serviceOf(p.PodRef.Namespace, p.PodRef.Name), Instance: p.PodRef.Name},
				Time: now, Volumes: vols,
			})
		}
	}
	return out
}

var (
	deploymentPod  = regexp.MustCompile(`^(.+)-[0-9a-z]{6,10}-[0-9a-z]{5}$`)
	statefulSetPod = regexp.MustCompile(`^(.+)-[0-9]+$`)
)

// ServiceFromPodName guesses a pod's service from its name, as the
// Deployment and StatefulSet controllers name pods.
func ServiceFromPodName(_, pod string) string {
	if m := deploymentPod.FindStringSubmatch(pod); m != nil {
		return m[1]
	}
	if m := statefulSetPod.FindStringSubmatch(pod); m != nil {
		return m[1]
	}
	return pod
}
