package kubelet

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

// fakeKubelet serves the fixtures over TLS and demands the token.
func fakeKubelet(t *testing.T, token string) (url, caFile string) {
	t.Helper()
	mux := http.NewServeMux()
	serve := func(path, file string) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			http.ServeFile(w, r, filepath.Join("testdata", file))
		})
	}
	serve("/metrics/cadvisor", "cadvisor.txt")
	serve("/stats/summary", "summary.json")
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.crt")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}

func TestSourceReadsKubeletFixtures(t *testing.T) {
	url, ca := fakeKubelet(t, "s3cret")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := New(Options{URL: url, TokenFile: tokenFile, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 5, 0, time.UTC)
	got, err := src.Read(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	byRef := map[model.Ref]metrics.Reading{}
	for _, r := range got {
		byRef[r.Ref] = r
	}
	web := byRef[model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c4d5b8-x2x9k", Container: "web"}]
	dbWeb := byRef[model.Ref{Project: "demo", Service: "db", Instance: "db-0", Container: "web"}]
	dbPod := byRef[model.Ref{Project: "demo", Service: "db", Instance: "db-0"}]
	webVols := byRef[model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c4d5b8-x2x9k"}]
	cadvisorTime := time.UnixMilli(1795946400000)
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"readings: 3 containers, db-0's pod network, web's volumes", len(got), 5},
		{"cpu counter", web.CPUSeconds, metrics.Known(120.25)},
		{"time is cAdvisor's collection time", web.Time, cadvisorTime},
		{"start time", web.StartedAt, time.Unix(1795942800, 0)},
		{"working set", web.MemoryWorkingSet, metrics.Known(200 << 20)},
		{"rss", web.MemoryRSS, metrics.Known(2e8)},
		{"disk reads over both devices", web.DiskReadBytes, metrics.Known(8192)},
		{"disk writes", web.DiskWriteBytes, metrics.Known(16384)},
		{"a one-container pod's network is its container's", web.NetworkRxBytes, metrics.Known(1e6)},
		{"network tx", web.NetworkTxBytes, metrics.Known(2e6)},
		{"cpu limit from quota/period", web.CPULimit, metrics.Known(0.5)},
		{"cpu request from shares", web.CPURequest, metrics.Known(0.25)},
		{"memory limit", web.MemoryLimit, metrics.Known(256 << 20)},
		{"ephemeral storage from the summary", web.FilesystemUsed, metrics.Known(40960)},
		{"no memory limit is none", dbWeb.MemoryLimit, metrics.Value{}},
		{"a two-container pod keeps network at pod level", dbWeb.NetworkRxBytes, metrics.Value{}},
		{"pod-level network", dbPod.NetworkRxBytes, metrics.Known(5000)},
		{"pod-level reading carries no cpu of the pod cgroup", dbPod.CPUSeconds, metrics.Value{}},
		{"volumes of the pod", len(webVols.Volumes), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(webVols.Volumes) == 2 {
		v := webVols.Volumes[0]
		if v.Name != "data" || v.Used != metrics.Known(805306368) || v.Capacity != metrics.Known(1<<30) || v.Inodes != metrics.Known(120) {
			t.Errorf("data volume %+v", v)
		}
	}
}

func TestSourceErrors(t *testing.T) {
	url, ca := fakeKubelet(t, "s3cret")
	wrong := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(wrong, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"wrong token", Options{URL: url, TokenFile: wrong, CAFile: ca}, "/metrics/cadvisor: 401"},
		{"unknown certificate authority", Options{URL: url, TokenFile: wrong}, "certificate"},
		{"missing token file", Options{URL: url, TokenFile: wrong + ".missing", CAFile: ca}, "token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Read(context.Background(), time.Now())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Read error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestServiceFromPodName(t *testing.T) {
	tests := map[string]string{
		"web-7f9c4d5b8-x2x9k":    "web",
		"my-api-5d8b9cf7c-abcde": "my-api",
		"db-0":                   "db",
		"standalone":             "standalone",
	}
	for pod, want := range tests {
		if got := ServiceFromPodName("demo", pod); got != want {
			t.Errorf("ServiceFromPodName(%q) = %q, want %q", pod, got, want)
		}
	}
}
