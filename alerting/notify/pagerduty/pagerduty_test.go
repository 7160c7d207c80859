package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
)

// eventsAPI stands in for the Events API v2: it checks the fields PagerDuty
// requires and answers 202, 400 or (when limited) 429 as PagerDuty does.
type eventsAPI struct {
	mu      sync.Mutex
	got     []Event
	limited bool
}

func (e *eventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if e.limited {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	var ev struct {
		Event
		Payload *struct {
			Summary, Source, Severity string
		} `json:"payload"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		e.reject(w, "invalid JSON")
		return
	}
	switch {
	case len(ev.RoutingKey) == 0:
		e.reject(w, "routing_key is missing")
		return
	case ev.EventAction != "trigger" && ev.EventAction != "acknowledge" && ev.EventAction != "resolve":
		e.reject(w, "event_action is invalid")
		return
	case ev.EventAction != "trigger" && ev.DedupKey == "", len(ev.DedupKey) > 255:
		e.reject(w, "dedup_key is missing or too long")
		return
	case ev.EventAction == "trigger" && (ev.Payload == nil || ev.Payload.Summary == "" || len(ev.Payload.Summary) > 1024 || ev.Payload.Source == ""):
		e.reject(w, "payload.summary and payload.source are required")
		return
	case ev.EventAction == "trigger" && ev.Payload.Severity != "critical" && ev.Payload.Severity != "error" && ev.Payload.Severity != "warning" && ev.Payload.Severity != "info":
		e.reject(w, "payload.severity is invalid")
		return
	}
	e.mu.Lock()
	e.got = append(e.got, ev.Event)
	e.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"status": "success", "message": "Event processed", "dedup_key": %q}`, ev.DedupKey)
}

func (e *eventsAPI) reject(w http.ResponseWriter, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"status": "invalid event", "message": "Event object is invalid", "errors": [%q]}`, msg)
}

func TestTriggerAndResolveShareDedupKey(t *testing.T) {
	api := &eventsAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var node yaml.Node
	_ = node.Encode(map[string]string{"routingKey": "R0123456789abcdef0123456789abcde", "url": srv.URL + "/v2/enqueue"})
	n, err := New(notify.Spec{Name: "pd", Type: Type, Settings: plugintest.Decode(t, Plugin.Settings(), &node)})
	if err != nil {
		t.Fatal(err)
	}
	ev := model.Event{ID: "evt_1", Name: model.EventContainerOOM, Status: model.StatusFiring, Severity: model.SeverityCritical,
		Time: time.Now(), Project: "demo", Service: "web", Instance: "web-1", Summary: "web-1 was killed for running out of memory"}
	msg := notify.Message{ID: "dlv_1", AlertKey: "container.oom|demo/web/web-1", Event: ev}
	if res, err := n.Notify(context.Background(), msg); err != nil || res.StatusCode != 202 {
		t.Fatalf("trigger: %d %v (%s)", res.StatusCode, err, res.Response)
	}
	msg.Event.Status = model.StatusResolved
	if _, err := n.Notify(context.Background(), msg); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if len(api.got) != 2 || api.got[0].EventAction != "trigger" || api.got[1].EventAction != "resolve" || api.got[0].DedupKey != api.got[1].DedupKey {
		t.Fatalf("PagerDuty got %+v, want a trigger and a resolve with one dedup_key", api.got)
	}

	api.limited = true
	_, err = n.Notify(context.Background(), msg)
	var re *notify.RetryableError
	if !errors.As(err, &re) {
		t.Errorf("429 gave %v, want a retryable error", err)
	}
}
