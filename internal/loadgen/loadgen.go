// Package loadgen sends a steady, bounded stream of HTTP requests to one URL
// and counts what came back: the load of the release tests (every request
// through the front proxy must answer 200 while a service is rolled out) and
// of bench/release. It sends only to the URL it is given, which callers keep
// on loopback, and stops by itself at MaxRequests or when ctx ends.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options shape the stream.
type Options struct {
	URL string
	// Rate is requests per second, kept open-loop: request i is due at
	// start + i/Rate whatever became of the earlier ones, and every request
	// that is due is sent at once when the generator is behind (a timer that
	// woke late, or all clients busy). 0 sends as fast as the clients can.
	Rate float64
	// Workers is the number of concurrent clients to start with; default 4.
	Workers int
	// MaxWorkers bounds the clients: while a request is due and none is
	// free, another is started, up to MaxWorkers (default 256, at least
	// Workers). Past that, due requests wait and count as Late.
	MaxWorkers int
	// MaxRequests bounds the run; default 1,000,000.
	MaxRequests int
	// Timeout bounds one request; default 10s.
	Timeout time.Duration
}

// LateAfter is how far behind its due time a request may start before it
// counts as late.
const LateAfter = 5 * time.Millisecond

// Result is what a run saw.
type Result struct {
	Sent     int
	Failed   int            // anything but 200, or no answer
	Codes    map[int]int    // status code → count (0: no answer)
	Errors   map[string]int // why the ones without an answer failed
	Duration time.Duration
	// Late counts the requests that started more than LateAfter after they
	// were due (with a Rate); MaxLag is the furthest behind one started.
	Late   int
	MaxLag time.Duration
	// Workers is the number of clients the run ended with.
	Workers int
	// Latencies of the answered requests, from sending to the end of the
	// body, sorted.
	Latencies []time.Duration
	// FirstFailures describes up to ten failed requests.
	FirstFailures []string
}

// Percentile returns the p-th percentile (0-100) of the latencies.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies)-1) * p / 100)
	return r.Latencies[i]
}

// RPS is the requests sent per second.
func (r Result) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Duration.Seconds()
}

// Run sends requests until ctx ends or MaxRequests were sent. Requests
// still waiting for a client when ctx ends are not sent; those under way
// are finished and counted.
func Run(ctx context.Context, o Options) Result {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = 256
	}
	o.MaxWorkers = max(o.MaxWorkers, o.Workers)
	if o.MaxRequests <= 0 {
		o.MaxRequests = 1_000_000
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	client := &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: o.MaxWorkers,
		},
	}
	defer client.CloseIdleConnections()

	var mu sync.Mutex
	res := Result{Codes: map[int]int{}, Errors: map[string]int{}}
	record := func(code int, err error, lag time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		res.Sent++
		res.Codes[code]++
		if lag > LateAfter {
			res.Late++
		}
		res.MaxLag = max(res.MaxLag, lag)
		if code != http.StatusOK {
			res.Failed++
			why := fmt.Sprintf("HTTP %d", code)
			if err != nil {
				why = err.Error()
				res.Errors[why]++
			}
			if len(res.FirstFailures) < 10 {
				res.FirstFailures = append(res.FirstFailures, time.Now().Format("15:04:05.000")+" "+why)
			}
		}
	}

	// A ticket is one request and the time it is due (zero without a
	// Rate). The channel is unbuffered: a send succeeds at once only when
	// a client is free, which is how the pacer knows to start another.
	tickets := make(chan time.Time)
	var wg sync.WaitGroup
	worker := func(first time.Time, hasFirst bool) {
		lat := make([]time.Duration, 0, 1024)
		defer func() {
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		}()
		send := func(due time.Time) {
			began := time.Now()
			var lag time.Duration
			if !due.IsZero() {
				lag = max(began.Sub(due), 0)
			}
			code, err := get(client, o.URL)
			if code != 0 {
				lat = append(lat, time.Since(began))
			}
			record(code, err, lag)
		}
		if hasFirst {
			send(first)
		}
		for due := range tickets {
			if ctx.Err() != nil {
				continue // the run is over: drain without sending
			}
			send(due)
		}
	}
	start := time.Now()
	workers := o.Workers
	for range o.Workers {
		wg.Go(func() { worker(time.Time{}, false) })
	}
	pace(ctx, o, start, func(due time.Time) bool {
		select {
		case tickets <- due:
			return true
		default:
		}
		if workers < o.MaxWorkers {
			workers++
			wg.Go(func() { worker(due, true) })
			return true
		}
		select {
		case tickets <- due:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(tickets)
	wg.Wait()
	res.Duration = time.Since(start)
	res.Workers = workers
	slices.Sort(res.Latencies)
	return res
}

// pace hands out o.MaxRequests requests to dispatch, each with its due time
// start + i/o.Rate: it sleeps until the next one is due, then hands out
// every one that is due by then, so that a late wake-up costs no request.
// Without a Rate the due time is zero and dispatch alone sets the pace. It
// returns when ctx ends, dispatch refuses, or all were handed out.
func pace(ctx context.Context, o Options, start time.Time, dispatch func(due time.Time) bool) {
	if o.Rate <= 0 {
		for range o.MaxRequests {
			if ctx.Err() != nil || !dispatch(time.Time{}) {
				return
			}
		}
		return
	}
	interval := float64(time.Second) / o.Rate
	due := func(i int) time.Time { return start.Add(time.Duration(float64(i) * interval)) }
	end, bounded := ctx.Deadline() // nothing due after it is sent
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; i < o.MaxRequests; {
		if bounded && due(i).After(end) {
			return
		}
		if wait := time.Until(due(i)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		now := time.Now()
		for ; i < o.MaxRequests && !due(i).After(now) && !(bounded && due(i).After(end)); i++ {
			if ctx.Err() != nil || !dispatch(due(i)) {
				return
			}
		}
	}
}

func get(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
