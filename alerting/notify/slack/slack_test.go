package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
)

func newNotifier(t *testing.T, raw map[string]string) notify.Notifier {
	t.Helper()
	var node yaml.Node
	if err := node.Encode(raw); err != nil {
		t.Fatal(err)
	}
	n, err := New(notify.Spec{Name: "ops-slack", Type: Type, Settings: plugintest.Decode(t, Plugin.Settings(), &node)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var crashLoop = model.Event{ID: "evt_1", Name: model.EventContainerCrashLoop, Status: model.StatusFiring, Severity: model.SeverityCritical,
	Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Project: "demo", Service: "web", Instance: "web-1",
	Summary: "web-1 restarted 4 times in 10m (exit code 1)", Data: map[string]any{"lastLines": []any{"panic: boom", "goroutine 1"}}}

func TestPostThenUpdateOnResolve(t *testing.T) {
	var mu sync.Mutex
	var updates []url.Values
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			mu.Lock()
			updates = append(updates, r.PostForm)
			mu.Unlock()
			_, _ = w.Write([]byte(`{"ok": true, "channel": "` + r.PostForm.Get("channel") + `", "ts": "` + r.PostForm.Get("ts") + `"}`))
		})
	})
	srv.Start()
	defer srv.Stop()
	n := newNotifier(t, map[string]string{"token": "xoxb-test", "channel": "#ops", "apiURL": srv.GetAPIURL()})

	res, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crashLoop})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref == "" {
		t.Fatal("no message reference came back for the firing message")
	}
	// slacktest's chat.postMessage decodes the blocks and answers the
	// channel and ts, which come back as the reference to update later.
	if !strings.HasPrefix(res.Ref, "#ops ") {
		t.Errorf("ref %q is not channel and ts", res.Ref)
	}

	resolved := crashLoop
	resolved.Status = model.StatusResolved
	if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_2", Event: resolved, Ref: res.Ref}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(updates) != 1 {
		t.Fatalf("chat.update called %d times, want once", len(updates))
	}
	if channel, ts, _ := strings.Cut(res.Ref, " "); updates[0].Get("ts") != ts || updates[0].Get("channel") != channel {
		t.Errorf("updated %v, want the firing message %q", updates[0], res.Ref)
	}
	if !strings.Contains(updates[0].Get("blocks"), "RESOLVED") {
		t.Errorf("update blocks do not say resolved: %s", updates[0].Get("blocks"))
	}
}

func TestSlackAnswers(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(w http.ResponseWriter)
		retryAfter time.Duration
		gone       bool
	}{
		{"429 is retried after Retry-After", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 3 * time.Second, false},
		{"5xx is retried", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, 0, false},
		{"a missing channel disables", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"ok": false, "error": "channel_not_found"}`))
		}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tt.answer(w) }))
			defer srv.Close()
			n := newNotifier(t, map[string]string{"token": "xoxb-test", "channel": "#ops", "apiURL": srv.URL})
			_, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crashLoop})
			var re *notify.RetryableError
			switch {
			case tt.gone:
				if !errors.Is(err, notify.ErrGone) {
					t.Fatalf("err = %v, want ErrGone", err)
				}
			case !errors.As(err, &re):
				t.Fatalf("err = %v, want retryable", err)
			case re.RetryAfter != tt.retryAfter:
				t.Errorf("retry after %s, want %s", re.RetryAfter, tt.retryAfter)
			}
		})
	}
}

func TestIncomingWebhook(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1<<16)
		k, _ := r.Body.Read(b)
		body = string(b[:k])
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	n := newNotifier(t, map[string]string{"webhookURL": srv.URL + "/services/T/B/X"})
	if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crashLoop}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"blocks"`) || !strings.Contains(body, "panic: boom") {
		t.Errorf("webhook body lacks the blocks or last lines: %s", body)
	}
}

func TestGroupStaysWithinFiftyBlocks(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm
		_, _ = w.Write([]byte(`{"ok": true, "channel": "C1", "ts": "1.2"}`))
	}))
	defer srv.Close()
	n := newNotifier(t, map[string]string{"token": "xoxb-test", "channel": "#ops", "apiURL": srv.URL}).(*Notifier)
	var msgs []notify.Message
	for range n.MaxGroup() {
		msgs = append(msgs, notify.Message{Event: crashLoop})
	}
	if _, err := n.NotifyGroup(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(got.Get("blocks")), &blocks); err != nil {
		t.Fatal(err)
	}
	if len(blocks) > 50 || len(blocks) != 1+2*n.MaxGroup() {
		t.Errorf("%d blocks for %d events, want a header and two per event, at most 50", len(blocks), n.MaxGroup())
	}
	if !strings.Contains(got.Get("text"), "20 × container.crashloop") {
		t.Errorf("fallback text %q does not count the events", got.Get("text"))
	}
}
