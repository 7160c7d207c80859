package discord

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
)

func newNotifier(t *testing.T, cfg map[string]string) *Notifier {
	t.Helper()
	var node yaml.Node
	if err := node.Encode(cfg); err != nil {
		t.Fatal(err)
	}
	n, err := New(notify.Spec{Name: "chat", Type: Type, Settings: plugintest.Decode(t, Plugin.Settings(), &node)})
	if err != nil {
		t.Fatal(err)
	}
	return n.(*Notifier)
}

var crash = notify.Message{Event: model.Event{Name: model.EventContainerCrash, Summary: "x"}}

func TestDiscordAnswers(t *testing.T) {
	tests := []struct {
		name          string
		answer        func(w http.ResponseWriter)
		wantPause     time.Duration
		wantRetry     time.Duration
		wantRetryable bool
		wantGone      bool
		wantFailed    bool // an error that is neither retryable nor ErrGone
		wantRef       string
	}{
		{name: "an exhausted bucket pauses the integration", answer: func(w http.ResponseWriter) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset-After", "2.5")
			_, _ = w.Write([]byte(`{"id": "42"}`))
		}, wantPause: 2500 * time.Millisecond, wantRef: "42"},
		{name: "429 retry_after in the body", answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`))
		}, wantRetry: 1500 * time.Millisecond, wantRetryable: true},
		{name: "429 Retry-After header longer than retry_after", answer: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`))
		}, wantRetry: 3 * time.Second, wantRetryable: true},
		{name: "429 that is not Discord's JSON", answer: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`slow down`))
		}, wantRetry: 2 * time.Second, wantRetryable: true},
		{name: "404 is a deleted webhook", answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message": "Unknown Webhook", "code": 10015}`))
		}, wantGone: true},
		{name: "400 is not retried", answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message": "Invalid Form Body", "code": 50035}`))
		}, wantFailed: true},
		{name: "500 is retryable", answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
		}, wantRetryable: true},
		{name: "502 is retryable, and discordgo does not retry it itself", answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
		}, wantRetryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var query string
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				query = r.URL.RawQuery
				tt.answer(w)
			}))
			defer srv.Close()
			n := newNotifier(t, map[string]string{"webhookURL": srv.URL + "/api/webhooks/1/tok"})
			res, err := n.Notify(context.Background(), crash)
			if query != "wait=true" {
				t.Errorf("query %q, want wait=true", query)
			}
			if got := requests.Load(); got != 1 {
				t.Errorf("%d requests, want 1 (no retries below the pipeline)", got)
			}
			var re *notify.RetryableError
			retryable := errors.As(err, &re)
			switch {
			case tt.wantGone && !errors.Is(err, notify.ErrGone):
				t.Errorf("err %v, want ErrGone", err)
			case tt.wantRetryable && (!retryable || re.RetryAfter != tt.wantRetry):
				t.Errorf("err %v, want retryable after %s", err, tt.wantRetry)
			case tt.wantFailed && (err == nil || retryable || errors.Is(err, notify.ErrGone)):
				t.Errorf("err %v, want a failure that is not retried", err)
			case !tt.wantGone && !tt.wantRetryable && !tt.wantFailed && err != nil:
				t.Errorf("err %v", err)
			}
			if res.Pause != tt.wantPause || res.Ref != tt.wantRef {
				t.Errorf("pause %s ref %q, want %s %q", res.Pause, res.Ref, tt.wantPause, tt.wantRef)
			}
		})
	}
}

// discordgo's Ratelimiter sleeps in LockBucket while a bucket it saw
// exhausted (or a global limit) has not reset; the notifier must leave that
// wait to the pipeline.
func TestDiscordgoNeverSleeps(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"exhausted bucket", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "60"}},
		{"exhausted bucket with a reset time", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"}},
		{"global limit", map[string]string{"X-RateLimit-Global": "true", "X-RateLimit-Reset-After": "60"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				_, _ = w.Write([]byte(`{"id": "1"}`))
			}))
			defer srv.Close()
			n := newNotifier(t, map[string]string{"webhookURL": srv.URL + "/api/webhooks/1/tok"})
			if _, err := n.Notify(context.Background(), crash); err != nil {
				t.Fatal(err)
			}
			rl := n.session.Ratelimiter
			if wait := rl.GetWaitTime(rl.GetBucket(n.bucket), 1); wait != 0 {
				t.Errorf("discordgo would wait %s before the next request", wait)
			}
			done := make(chan error, 1)
			go func() {
				_, err := n.Notify(context.Background(), crash)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("second send: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the second send is still waiting after 5s")
			}
		})
	}
}

func TestDiscordRequest(t *testing.T) {
	type seen struct {
		method, path, query, contentType, auth string
		params                                 discordgo.WebhookParams
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
			contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization")}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &s.params)
		got <- s
		_, _ = w.Write([]byte(`{"id": "7"}`))
	}))
	defer srv.Close()
	n := newNotifier(t, map[string]string{"webhookURL": srv.URL + "/api/webhooks/1/tok?thread_id=5",
		"username": "opshub", "avatarURL": "https://example.invalid/a.png"})
	res, err := n.Notify(context.Background(), crash)
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.method != http.MethodPost || s.path != "/api/webhooks/1/tok" || s.query != "thread_id=5&wait=true" {
		t.Errorf("request %s %s?%s, want POST /api/webhooks/1/tok?thread_id=5&wait=true", s.method, s.path, s.query)
	}
	if s.contentType != "application/json" || s.auth != "" {
		t.Errorf("Content-Type %q Authorization %q, want application/json and none", s.contentType, s.auth)
	}
	if s.params.Username != "opshub" || s.params.AvatarURL != "https://example.invalid/a.png" || len(s.params.Embeds) != 1 {
		t.Errorf("params %+v, want the username, avatar and one embed", s.params)
	}
	if res.Ref != "7" || res.StatusCode != http.StatusOK {
		t.Errorf("result %+v, want ref 7 and 200", res)
	}
}
