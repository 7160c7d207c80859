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
	// Rate is requests per second over all workers; 0 sends as fast as the
	// workers can.
	Rate float64
	// Workers is the number of concurrent clients; default 4.
	Workers int
	// MaxRequests bounds the run; default 1,000,000.
	MaxRequests int
	// Timeout bounds one request; default 10s.
	Timeout time.Duration
}

// Result is what a run saw.
type Result struct {
	Sent     int
	Failed   int            // anything but 200, or no answer
	Codes    map[int]int    // status code → count (0: no answer)
	Errors   map[string]int // why the ones without an answer failed
	Duration time.Duration
	// Latencies of the answered requests, sorted.
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

// Run sends requests until ctx ends or MaxRequests were sent.
func Run(ctx context.Context, o Options) Result {
	if o.Workers <= 0 {
		o.Workers = 4
	}
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
			MaxIdleConnsPerHost: o.Workers,
		},
	}
	defer client.CloseIdleConnections()

	tickets := make(chan struct{}, o.Workers)
	go func() {
		defer close(tickets)
		var tick <-chan time.Time
		if o.Rate > 0 {
			t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
			defer t.Stop()
			tick = t.C
		}
		for range o.MaxRequests {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return
				}
			}
			select {
			case tickets <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()

	var mu sync.Mutex
	res := Result{Codes: map[int]int{}, Errors: map[string]int{}}
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1024)
			defer func() {
				mu.Lock()
				res.Latencies = append(res.Latencies, lat...)
				mu.Unlock()
			}()
			for range tickets {
				began := time.Now()
				code, err := get(client, o.URL)
				took := time.Since(began)
				if code != 0 {
					lat = append(lat, took)
				}
				mu.Lock()
				res.Sent++
				res.Codes[code]++
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
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Duration = time.Since(start)
	slices.Sort(res.Latencies)
	return res
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
