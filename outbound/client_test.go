package outbound

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/config"
)

// clientFrom builds a client from keys as a plugin's config writes them,
// decoded as config decodes them.
func clientFrom(t *testing.T, text string) *http.Client {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var c settings
	if err := config.DecodePlugin(&doc, &c); err != nil {
		t.Fatal(err)
	}
	client, err := NewClient("sink s", c.ClientConfig, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// settings stand for a plugin's settings that embed the client keys.
type settings struct {
	ClientConfig `yaml:",inline"`
}

func (s settings) Validate() error { return s.ClientConfig.Validate() }

func TestNewHTTPClientSendsAuthAndHeaders(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want map[string]string
	}{
		{
			name: "basic auth",
			raw:  "auth: {basic: {username: u, password: s3cret}}",
			want: map[string]string{"Authorization": "Basic dTpzM2NyZXQ="},
		},
		{
			name: "bearer token",
			raw:  "auth: {bearer: {token: abc}}",
			want: map[string]string{"Authorization": "Bearer abc"},
		},
		{
			name: "configured headers",
			raw:  "headers: {X-Scope-OrgID: team-a}",
			want: map[string]string{"X-Scope-Orgid": "team-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan http.Header, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Clone()
			}))
			defer srv.Close()
			c := clientFrom(t, tt.raw)
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := <-got
			for k, v := range tt.want {
				if h.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

func TestNewHTTPClientTrustsConfiguredCA(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}

	plain := clientFrom(t, "{}")
	if _, err := plain.Get(srv.URL); err == nil {
		t.Fatal("a client without the CA accepted the self-signed server")
	}
	trusting := clientFrom(t, "tls: {caFile: "+ca+", minVersion: TLS12}")
	resp, err := trusting.Get(srv.URL)
	if err != nil {
		t.Fatalf("a client given the CA refused the server: %v", err)
	}
	resp.Body.Close()
}
