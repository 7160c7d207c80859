package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// slowServer answers 200 after delay.
func slowServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay) // the server's own service time
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// window runs o against url for d.
func window(o Options, d time.Duration) Result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return Run(ctx, o)
}

func TestRateIsReachedWhileClientsAreBusy(t *testing.T) {
	// Each answer takes 20 ms: two clients alone manage 100 req/s, so 400
	// req/s needs the generator to start more of them instead of waiting.
	url := slowServer(t, 20*time.Millisecond)
	res := window(Options{URL: url, Rate: 400, Workers: 2}, time.Second)
	if res.Failed != 0 {
		t.Fatalf("%d failed: %v %v", res.Failed, res.Codes, res.FirstFailures)
	}
	// 401 are due in a second (the first at once); the ones due in the last
	// 20 ms may not have been sent when the window closed, and a loaded
	// machine may lose a few more, but a closed loop would send about 100.
	if res.Sent < 300 || res.Sent > 401 {
		t.Errorf("sent %d requests in 1s at 400 req/s, want 300–401 (workers %d, late %d)", res.Sent, res.Workers, res.Late)
	}
	if res.Workers <= 2 {
		t.Errorf("ended with %d workers, want more than the 2 it started with", res.Workers)
	}
}

func TestLateWakeUpCostsNoRequest(t *testing.T) {
	// The first dispatch stalls for 200 ms, as a descheduled generator
	// would: the requests that fell due meanwhile are handed out at once
	// afterwards instead of being skipped, as a ticker would skip them.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	n := 0
	pace(ctx, Options{Rate: 1000, MaxRequests: 1_000_000}, time.Now(), func(time.Time) bool {
		if n == 0 {
			time.Sleep(200 * time.Millisecond) // the stall
		}
		n++
		return true
	})
	if n < 400 || n > 501 {
		t.Errorf("handed out %d requests in 500 ms at 1,000 req/s, want 400–501", n)
	}
}

func TestLateStartsAreCountedAtMaxWorkers(t *testing.T) {
	// Two clients at most, 50 ms each: 40 req/s of the 200 asked for.
	url := slowServer(t, 50*time.Millisecond)
	res := window(Options{URL: url, Rate: 200, Workers: 1, MaxWorkers: 2}, 500*time.Millisecond)
	if res.Workers != 2 {
		t.Errorf("ended with %d workers, want MaxWorkers 2", res.Workers)
	}
	if res.Sent > 30 || res.Late == 0 || res.MaxLag <= LateAfter {
		t.Errorf("sent %d, late %d, max lag %v: want at most 30 sent and late starts counted", res.Sent, res.Late, res.MaxLag)
	}
	if res.Failed != 0 {
		t.Errorf("%d failed: %v", res.Failed, res.FirstFailures)
	}
}

func TestMaxRequestsBoundsTheRun(t *testing.T) {
	url := slowServer(t, 0)
	res := Run(context.Background(), Options{URL: url, Workers: 3, MaxRequests: 50})
	if res.Sent != 50 || res.Failed != 0 || len(res.Latencies) != 50 {
		t.Errorf("sent %d, failed %d, %d latencies; want 50, 0, 50", res.Sent, res.Failed, len(res.Latencies))
	}
}
