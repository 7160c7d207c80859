package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// This file holds the harness the other tests share: an in-process demo on
// 127.0.0.1:0 with captured output and a clock the test moves.

// syncBuffer is a bytes.Buffer that output can be written to while a test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the complete lines written so far, without newlines.
func (s *syncBuffer) lines() []string {
	text := s.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		return strings.Split(text[:i], "\n")
	}
	return nil
}

// testDemo is a demo running in-process on a loopback listener.
type testDemo struct {
	demo           *Demo
	url            string
	stdout, stderr *syncBuffer
	clock          *sinktest.FakeClock

	cancel context.CancelFunc
	done   chan struct{}
	err    error // what Run returned, once done is closed
}

// startDemo runs a demo with the given flags and environment (nothing is
// read from the test process's own environment).
func startDemo(t *testing.T, args []string, environ ...string) *testDemo {
	t.Helper()
	cfg, err := parseConfig(args, append([]string{"OPSHUB_INSTANCE=test-1"}, environ...))
	if err != nil {
		t.Fatalf("parseConfig(%q): %v", args, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	td := &testDemo{
		url:    "http://" + ln.Addr().String(),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		clock:  sinktest.NewFakeClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)),
		done:   make(chan struct{}),
	}
	td.demo, err = New(cfg, deps{stdout: td.stdout, stderr: td.stderr, listener: ln, now: td.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	td.cancel = cancel
	go func() {
		defer close(td.done)
		td.err = td.demo.Run(ctx)
	}()
	t.Cleanup(func() {
		if err := td.stop(t); err != nil && !errors.As(err, new(*exitError)) && !errors.As(err, new(*crashError)) {
			t.Errorf("Run: %v", err)
		}
	})
	sinktest.WaitFor(t, 10*time.Second, "the start-up line", func() bool { return strings.Contains(td.stdout.String(), "listening on") })
	return td
}

// stop cancels the demo's context, as SIGTERM does, and returns what Run
// returned.
func (td *testDemo) stop(t *testing.T) error {
	t.Helper()
	td.cancel()
	return td.wait(t)
}

// wait waits for Run to return by itself.
func (td *testDemo) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-td.done:
		return td.err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// get fetches path and returns the status code, body and response headers.
func (td *testDemo) get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(td.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// control sends GET /control?query and decodes the reply.
func (td *testDemo) control(t *testing.T, query string) (int, status, apiError) {
	t.Helper()
	code, body, _ := td.get(t, "/control?"+query)
	st, ae := decodeControl(t, code, body)
	return code, st, ae
}

// postControl sends the parameters as a POST form.
func (td *testDemo) postControl(t *testing.T, form url.Values) (int, status, apiError) {
	t.Helper()
	resp, err := http.PostForm(td.url+"/control", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	st, ae := decodeControl(t, resp.StatusCode, string(body))
	return resp.StatusCode, st, ae
}

func decodeControl(t *testing.T, code int, body string) (status, apiError) {
	t.Helper()
	var st status
	var ae apiError
	target := any(&st)
	if code != http.StatusOK {
		target = &ae
	}
	if err := json.Unmarshal([]byte(body), target); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return st, ae
}
