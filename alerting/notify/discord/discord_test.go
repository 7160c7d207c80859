package discord

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
)

func TestDiscordAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter)
		wantPause time.Duration
		wantRetry time.Duration
		wantGone  bool
		wantRef   string
	}{
		{"an exhausted bucket pauses the integration", func(w http.ResponseWriter) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset-After", "2.5")
			_, _ = w.Write([]byte(`{"id": "42"}`))
		}, 2500 * time.Millisecond, 0, false, "42"},
		{"429 retry_after in the body", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`))
		}, 0, 1500 * time.Millisecond, false, ""},
		{"404 is a deleted webhook", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message": "Unknown Webhook", "code": 10015}`))
		}, 0, 0, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var query string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				query = r.URL.RawQuery
				tt.answer(w)
			}))
			defer srv.Close()
			var node yaml.Node
			_ = node.Encode(map[string]string{"webhookURL": srv.URL + "/api/webhooks/1/tok"})
			n, err := New(notify.Spec{Name: "chat", Type: Type, Raw: &node})
			if err != nil {
				t.Fatal(err)
			}
			res, err := n.Notify(context.Background(), notify.Message{Event: model.Event{Name: model.EventContainerCrash, Summary: "x"}})
			if query != "wait=true" {
				t.Errorf("query %q, want wait=true", query)
			}
			var re *notify.RetryableError
			switch {
			case tt.wantGone && !errors.Is(err, notify.ErrGone):
				t.Errorf("err %v, want ErrGone", err)
			case tt.wantRetry > 0 && (!errors.As(err, &re) || re.RetryAfter != tt.wantRetry):
				t.Errorf("err %v, want retry after %s", err, tt.wantRetry)
			case !tt.wantGone && tt.wantRetry == 0 && err != nil:
				t.Errorf("err %v", err)
			}
			if res.Pause != tt.wantPause || res.Ref != tt.wantRef {
				t.Errorf("pause %s ref %q, want %s %q", res.Pause, res.Ref, tt.wantPause, tt.wantRef)
			}
		})
	}
}
