package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
)

// The example from the Standard Webhooks specification's reference
// libraries: a receiver using any of them accepts what Sign produces.
func TestSignMatchesStandardWebhooks(t *testing.T) {
	key, err := SecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestRequestShape(t *testing.T) {
	var req *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, body = r, must(io.ReadAll(r.Body))
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	var node yaml.Node
	_ = node.Encode(map[string]any{"url": srv.URL, "secret": "plain-secret", "headers": map[string]string{"X-Team": "ops"}})
	n, err := New(notify.Spec{Name: "hook", Type: Type, Settings: plugintest.Decode(t, Plugin.Settings(), &node)})
	if err != nil {
		t.Fatal(err)
	}
	ev := model.Event{ID: "evt_1", Name: model.EventVolumeUsage, Status: model.StatusFiring, Severity: model.SeverityWarning,
		Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Project: "demo", Service: "db", Summary: "volume data of db is 91% full"}
	_, err = n.Notify(context.Background(), notify.Message{ID: "dlv_000000000007", Event: ev})
	if re, ok := err.(*notify.RetryableError); !ok || re.RetryAfter != 7*time.Second {
		t.Errorf("429 with Retry-After: 7 gave %v, want a retryable error after 7s", err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "event", "status", "severity", "time", "project", "service", "summary"} {
		if _, ok := got[k]; !ok {
			t.Errorf("body lacks %q: %s", k, body)
		}
	}
	h := req.Header
	if h.Get("webhook-id") != "dlv_000000000007" || h.Get("X-Opshub-Event") != "volume.usage" || h.Get("X-Team") != "ops" {
		t.Errorf("headers %v", h)
	}
	if !Verify([]byte("plain-secret"), h.Get("webhook-id"), h.Get("webhook-timestamp"), body, h.Get("webhook-signature")) {
		t.Errorf("signature %q does not verify", h.Get("webhook-signature"))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
