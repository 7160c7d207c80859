package kubetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// KubeletPod is what the fixture kubelet reports about one pod.
type KubeletPod struct {
	Namespace, Name, UID string
	Containers           []KubeletContainer
	// Volumes are reported in /stats/summary; a volume with PVC set is a
	// PersistentVolumeClaim's (the summary's pvcRef).
	Volumes []KubeletVolume
}

// KubeletContainer is one container's numbers in /metrics/cadvisor.
type KubeletContainer struct {
	Name string
	// CPUSeconds is the CPU time counter; MemoryBytes the working set.
	CPUSeconds  float64
	MemoryBytes float64
	// MemoryLimitBytes, when set, is the container's memory limit.
	MemoryLimitBytes float64
}

// KubeletVolume is one pod volume in /stats/summary.
type KubeletVolume struct {
	Name, PVC                string
	UsedBytes, CapacityBytes uint64
}

// Kubelet serves the kubelet's /metrics/cadvisor and /stats/summary over
// TLS on loopback, built from the pods the test sets, and refuses requests
// without its bearer token, as a kubelet with webhook authentication
// refuses them. Point a collector at URL with CAFile and TokenFile.
type Kubelet struct {
	URL string
	// CAFile holds the PEM certificate the server presents (self-signed for
	// 127.0.0.1), to verify it with.
	CAFile string
	// Token is the bearer token it accepts; TokenFile holds it.
	Token, TokenFile string

	started  time.Time
	mu       sync.Mutex
	pods     []KubeletPod
	requests atomic.Int64
	refused  atomic.Int64
}

// StartKubelet serves a fixture kubelet until the test ends.
func StartKubelet(t testing.TB) *Kubelet {
	t.Helper()
	dir := t.TempDir()
	cert, certPEM, err := selfSignedLoopback()
	if err != nil {
		t.Fatalf("kubelet fixture certificate: %v", err)
	}
	k := &Kubelet{
		CAFile:    filepath.Join(dir, "kubelet-ca.crt"),
		Token:     randomToken(),
		TokenFile: filepath.Join(dir, "token"),
		started:   time.Now().Add(-time.Hour).Truncate(time.Second),
	}
	if err := os.WriteFile(k.CAFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.TokenFile, []byte(k.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	k.URL = srv.URL
	return k
}

// SetPods replaces what the kubelet reports.
func (k *Kubelet) SetPods(pods ...KubeletPod) {
	k.mu.Lock()
	k.pods = append([]KubeletPod(nil), pods...)
	k.mu.Unlock()
}

// Requests counts the requests served; Refused those refused for their
// token.
func (k *Kubelet) Requests() int64 { return k.requests.Load() }

// Refused counts the requests refused for a missing or wrong token.
func (k *Kubelet) Refused() int64 { return k.refused.Load() }

func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+k.Token {
		k.refused.Add(1)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	k.requests.Add(1)
	k.mu.Lock()
	pods := k.pods
	k.mu.Unlock()
	switch r.URL.Path {
	case "/metrics/cadvisor":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(k.cadvisor(pods, time.Now())))
	case "/stats/summary":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(k.summary(pods))
	default:
		http.NotFound(w, r)
	}
}

// cadvisor renders the pods in the Prometheus text format, as the
// kubelet's cAdvisor endpoint does (with its own timestamps).
func (k *Kubelet) cadvisor(pods []KubeletPod, now time.Time) string {
	ms := now.UnixMilli()
	families := []struct {
		name, typ string
		value     func(KubeletContainer) (float64, bool)
	}{
		{"container_cpu_usage_seconds_total", "counter", func(c KubeletContainer) (float64, bool) { return c.CPUSeconds, true }},
		{"container_memory_working_set_bytes", "gauge", func(c KubeletContainer) (float64, bool) { return c.MemoryBytes, true }},
		{"container_start_time_seconds", "gauge", func(KubeletContainer) (float64, bool) { return float64(k.started.Unix()), true }},
		{"container_spec_memory_limit_bytes", "gauge", func(c KubeletContainer) (float64, bool) { return c.MemoryLimitBytes, c.MemoryLimitBytes > 0 }},
	}
	var b strings.Builder
	for _, f := range families {
		fmt.Fprintf(&b, "# HELP %s fixture\n# TYPE %s %s\n", f.name, f.name, f.typ)
		for _, p := range pods {
			for i, c := range p.Containers {
				v, ok := f.value(c)
				if !ok {
					continue
				}
				fmt.Fprintf(&b, "%s{container=%q,id=\"/kubepods/pod%s/%d\",image=\"registry.example/%s:1\",name=\"%s-%d\",namespace=%q,pod=%q} %g %d\n",
					f.name, c.Name, p.UID, i, c.Name, p.UID, i, p.Namespace, p.Name, v, ms)
			}
		}
	}
	return b.String()
}

type summaryFS struct {
	UsedBytes     *uint64 `json:"usedBytes,omitempty"`
	CapacityBytes *uint64 `json:"capacityBytes,omitempty"`
}

type summaryVolume struct {
	Name string `json:"name"`
	summaryFS
	PVCRef *struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"pvcRef,omitempty"`
}

type summaryPod struct {
	PodRef struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"podRef"`
	Containers []struct {
		Name string `json:"name"`
	} `json:"containers"`
	Volumes []summaryVolume `json:"volume,omitempty"`
}

// summary is /stats/summary: the node and each pod with its volumes.
func (k *Kubelet) summary(pods []KubeletPod) any {
	out := struct {
		Node struct {
			NodeName string `json:"nodeName"`
		} `json:"node"`
		Pods []summaryPod `json:"pods"`
	}{}
	out.Node.NodeName = NodeName
	for _, p := range pods {
		var sp summaryPod
		sp.PodRef.Name, sp.PodRef.Namespace, sp.PodRef.UID = p.Name, p.Namespace, p.UID
		for _, c := range p.Containers {
			sp.Containers = append(sp.Containers, struct {
				Name string `json:"name"`
			}{c.Name})
		}
		for _, v := range p.Volumes {
			sv := summaryVolume{Name: v.Name}
			used, capacity := v.UsedBytes, v.CapacityBytes
			sv.UsedBytes, sv.CapacityBytes = &used, &capacity
			if v.PVC != "" {
				sv.PVCRef = &struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				}{v.PVC, p.Namespace}
			}
			sp.Volumes = append(sp.Volumes, sv)
		}
		out.Pods = append(out.Pods, sp)
	}
	return out
}

// selfSignedLoopback makes a certificate for 127.0.0.1 and localhost that
// is its own CA.
func selfSignedLoopback() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: NodeName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return cert, certPEM, err
}
