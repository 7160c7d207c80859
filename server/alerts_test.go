package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting"
)

// fakeAlerting answers fixed alerts and deliveries and records resends.
type fakeAlerting struct {
	resent []string
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func (f *fakeAlerting) Alerts() ([]alerting.Alert, error) {
	return []alerting.Alert{{ID: "evt_1", Event: "container.crashloop", Status: "firing", Project: "demo", Service: "web", Instance: "web-1", Since: t0}}, nil
}

func (f *fakeAlerting) Deliveries() ([]alerting.Delivery, error) {
	return []alerting.Delivery{{ID: "dlv_000000000001", Integration: "chat", Event: "container.crashloop", State: "failed", Attempts: 1, LastStatus: 404, Time: t0}}, nil
}

func (f *fakeAlerting) Integrations() ([]alerting.IntegrationStatus, error) {
	return []alerting.IntegrationStatus{{Name: "chat", Type: "discord", State: "disabled", Reason: "destination is gone"}}, nil
}

func (f *fakeAlerting) Resend(id string) (alerting.Delivery, error) {
	if id != "dlv_000000000001" {
		return alerting.Delivery{}, fmt.Errorf("delivery %q: %w", id, alerting.ErrUnknownDelivery)
	}
	f.resent = append(f.resent, id)
	return alerting.Delivery{ID: "dlv_000000000002", Integration: "chat", State: "pending", ResendOf: id}, nil
}

func TestAlertsAndDeliveriesAPI(t *testing.T) {
	fake := &fakeAlerting{}
	h := newTestServer(t, Options{Alerting: fake}).Handler()
	tests := []struct {
		name, method, path string
		code               int
		want               string // a JSON path's value, checked below
	}{
		{"alerts list the SPEC fields", "GET", "/api/v1/alerts", 200, "alerts.0.event=container.crashloop"},
		{"deliveries list the SPEC fields", "GET", "/api/v1/deliveries", 200, "deliveries.0.lastStatus=404"},
		{"deliveries say a disabled integration", "GET", "/api/v1/deliveries", 200, "integrations.0.state=disabled"},
		{"resend queues a new delivery", "POST", "/api/v1/deliveries/dlv_000000000001/resend", 202, "delivery.resendOf=dlv_000000000001"},
		{"resend of an unknown id is 404", "POST", "/api/v1/deliveries/dlv_9/resend", 404, "field=id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAnswer(t, do(t, h, tt.method, tt.path, "127.0.0.1:5555", ""), tt.code, tt.want)
		})
	}
	if len(fake.resent) != 1 {
		t.Errorf("resent %v, want one", fake.resent)
	}
}

func TestAlertsAPIWithoutNotifications(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	rec := do(t, h, "GET", "/api/v1/alerts", "127.0.0.1:5555", "")
	if rec.Code != 200 || rec.Body.String() != "{\n  \"alerts\": []\n}\n" {
		t.Errorf("got %d %q, want an empty list", rec.Code, rec.Body)
	}
}

// expectAnswer fails the test unless rec has the status code and, when
// want is set, its JSON body holds want ("a.0.b=value", see lookup).
func expectAnswer(t *testing.T, rec *httptest.ResponseRecorder, code int, want string) {
	t.Helper()
	if rec.Code != code {
		t.Fatalf("code %d, want %d: %s", rec.Code, code, rec.Body)
	}
	if want == "" {
		return
	}
	var body any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if msg := lookup(body, want); msg != "" {
		t.Errorf("%s in %s", msg, rec.Body)
	}
}

// lookup checks "a.0.b=value" against a decoded JSON document and says
// what differs, or "".
func lookup(doc any, spec string) string {
	var path, want string
	for i := len(spec) - 1; i >= 0; i-- {
		if spec[i] == '=' {
			path, want = spec[:i], spec[i+1:]
			break
		}
	}
	cur := doc
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '.' {
			continue
		}
		key := path[start:i]
		start = i + 1
		switch v := cur.(type) {
		case map[string]any:
			cur = v[key]
		case []any:
			var n int
			fmt.Sscan(key, &n)
			if n >= len(v) {
				return path + " is missing"
			}
			cur = v[n]
		default:
			return path + " is missing"
		}
	}
	if got := fmt.Sprint(cur); got != want {
		return fmt.Sprintf("%s = %s, want %s", path, got, want)
	}
	return ""
}
