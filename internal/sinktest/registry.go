package sinktest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// Registry is a running CNCF distribution registry (the reference OCI
// registry) on plain HTTP; the image tests push opshub's image to it, and
// the continuous deployment tests push the images it follows.
type Registry struct {
	// Host is host:port, the registry part of an image reference.
	Host string
	proc *process
}

// StartRegistry starts a registry with its storage in a temporary directory;
// it stops when the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	return startRegistry(t, "")
}

// StartRegistryWithLogin starts a registry that serves only username with
// password (HTTP basic auth from an htpasswd file, the registry's own
// `auth: htpasswd`).
func StartRegistryWithLogin(t testing.TB, username, password string) *Registry {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(username+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startRegistry(t, "auth: {htpasswd: {realm: opshub-test, path: "+file+"}}\n")
}

func startRegistry(t testing.TB, extra string) *Registry {
	t.Helper()
	bin := Binary(t, "registry", "run `make tools` to build it")
	dir := t.TempDir()
	r := &Registry{}
	command := func(addr string) *exec.Cmd {
		config := "version: 0.1\n" +
			"log: {level: warn}\n" +
			"storage: {filesystem: {rootdirectory: " + filepath.Join(dir, "data") + "}}\n" +
			"http: {addr: " + addr + "}\n" + extra
		cfgFile := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(bin, "serve", cfgFile)
	}
	r.proc, r.Host = startListening(t, "registry", "", 30*time.Second, command, func(_ *process, addr string) bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// 401 is a registry that asks for a login: it is up.
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	})
	return r
}

// Push writes a new random image (one small layer) under image:tag with
// go-containerregistry's writer and returns its digest; auth nil is
// anonymous. image may name this registry or another (a proxy in front of
// it).
func Push(t testing.TB, image, tag string, auth authn.Authenticator) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(image + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(ref, img, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// LimitedRegistry is a reverse proxy in front of a registry that answers
// the first request with 429 Too Many Requests and a Retry-After, as a
// rate-limited registry (Docker Hub) does, and passes every other request
// on; it records when each request came.
type LimitedRegistry struct {
	// Host is host:port of the proxy, the registry part of an image
	// reference that goes through it.
	Host  string
	mu    sync.Mutex
	times []time.Time
}

// LimitRegistry starts a LimitedRegistry in front of r whose 429 asks for
// retryAfter (whole seconds); it stops when the test ends.
func LimitRegistry(t testing.TB, r *Registry, retryAfter time.Duration) *LimitedRegistry {
	t.Helper()
	target, err := url.Parse("http://" + r.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	l := &LimitedRegistry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		l.mu.Lock()
		l.times = append(l.times, time.Now())
		first := len(l.times) == 1
		l.mu.Unlock()
		if first {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit"}]}`, http.StatusTooManyRequests)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	l.Host = strings.TrimPrefix(srv.URL, "http://")
	return l
}

// Requests returns when each request came, the refused first one first.
func (l *LimitedRegistry) Requests() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.times)
}
