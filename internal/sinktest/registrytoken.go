package sinktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TokenRegistry is a registry behind a Docker Hub style token service: the
// registry (the CNCF distribution registry's own `auth: token`) answers 401
// with `WWW-Authenticate: Bearer realm=…`, and the token service at that
// realm hands out JWTs, signed by a key the registry trusts, that grant
// what was asked for to username with password, and nothing to anyone
// else. The token service stands in for Docker Hub's auth.docker.io; the
// registry checks each token itself. Both are reached on one address, Host,
// as a registry that serves its own tokens (Harbor) is: go-containerregistry
// refuses a realm on another loopback or private address.
type TokenRegistry struct {
	// Host is host:port of the registry and its token service.
	Host     string
	registry *Registry
	// Tokens counts the tokens handed out.
	Tokens atomic.Int64
}

// StartRegistryWithTokenService starts a TokenRegistry; both stop when the
// test ends.
func StartRegistryWithTokenService(t testing.TB, username, password string) *TokenRegistry {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opshub test token issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "token-issuer.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := &TokenRegistry{}
	var proxy atomic.Pointer[httputil.ReverseProxy]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			if p := proxy.Load(); p != nil {
				p.ServeHTTP(w, r)
				return
			}
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		user, pass, ok := r.BasicAuth()
		var access []map[string]any
		if ok && user == username && pass == password {
			// scope=repository:acme/web:pull,push (repeatable)
			for _, scope := range r.URL.Query()["scope"] {
				parts := strings.Split(scope, ":")
				if len(parts) == 3 {
					access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": strings.Split(parts[2], ",")})
				}
			}
		} else if ok {
			http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
			return
		}
		now := time.Now()
		claims := map[string]any{
			"iss": "opshub-test", "sub": user, "aud": "opshub-registry", "exp": now.Add(5 * time.Minute).Unix(),
			"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": now.Format(time.RFC3339Nano), "access": access,
		}
		token := signES256(t, key, der, claims)
		tr.Tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300})
	}))
	t.Cleanup(srv.Close)
	tr.registry = startRegistry(t, "auth: {token: {realm: "+srv.URL+"/token, service: opshub-registry, issuer: opshub-test, rootcertbundle: "+bundle+"}}\n")
	target, err := url.Parse("http://" + tr.registry.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Store(httputil.NewSingleHostReverseProxy(target))
	tr.Host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// signES256 makes a JWS (compact form) of claims with the certificate in
// its x5c header, as the registry's token auth verifies it.
func signES256(t testing.TB, key *ecdsa.PrivateKey, cert []byte, claims map[string]any) string {
	t.Helper()
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{base64.StdEncoding.EncodeToString(cert)}})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig)
}
