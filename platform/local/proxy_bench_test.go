package local

// The front proxy's cost per request, against an in-process backend:
//
//	go test -run '^$' -bench BenchmarkProxy -benchtime 20000x -count 5 ./platform/local/
//
// direct is the client straight to one backend; proxy-N goes through the
// proxy to N ready instances; with-writers adds a goroutine that takes the
// runtime's write lock as often as probes and state changes could, to show
// whether they stall the proxy's pick.

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// benchProxy serves the proxy of a service with n ready instances, each an
// in-process HTTP server; it returns the runtime, the proxy's URL and the
// URL of the first backend.
func benchProxy(b *testing.B, n int) (*Runtime, string, string) {
	b.Helper()
	r, err := New(Options{DataDir: b.TempDir()}, []Workload{{Project: "bench", Name: "web", Command: []string{"web"}, Replicas: n, Port: 1}})
	if err != nil {
		b.Fatal(err)
	}
	s := r.services[0]
	var first string
	for i := range n {
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hello\n")
		}))
		b.Cleanup(backend.Close)
		port := backend.Listener.Addr().(*net.TCPAddr).Port
		if i == 0 {
			first = backend.URL
		}
		s.instances = append(s.instances, &instance{svc: s, index: i, name: "web-" + strconv.Itoa(i), port: port, pid: 1, ready: true, status: "Running"})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.proxy.server.Serve(ln) }()
	b.Cleanup(func() { s.proxy.server.Close(); s.proxy.transport.CloseIdleConnections() })
	return r, "http://" + ln.Addr().String() + "/", first + "/"
}

func benchGet(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("HTTP %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkProxy(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		_, _, direct := benchProxy(b, 1)
		benchGet(b, direct)
	})
	for _, n := range []int{1, 3, 10} {
		b.Run("proxy-"+strconv.Itoa(n), func(b *testing.B) {
			_, url, _ := benchProxy(b, n)
			benchGet(b, url)
		})
	}
	b.Run("proxy-10-with-writers", func(b *testing.B) {
		r, url, _ := benchProxy(b, 10)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(100 * time.Microsecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				r.mu.Lock()
				r.changedLocked(r.services[0])
				r.mu.Unlock()
			}
		}()
		benchGet(b, url)
		close(stop)
		<-done
	})
}
