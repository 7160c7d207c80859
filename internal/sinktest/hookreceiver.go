package sinktest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// HookReceiver is a webhook endpoint that records every request, with when
// it arrived, and answers Status (204 when zero). Set Status before it
// serves.
type HookReceiver struct {
	Status int

	mu  sync.Mutex
	got []HookRequest
}

// HookRequest is one request a HookReceiver got.
type HookRequest struct {
	At time.Time
	// ID, Timestamp and Signature are the Standard Webhooks headers
	// (webhook-id, webhook-timestamp, webhook-signature).
	ID, Timestamp, Signature string
	Body                     []byte
	// Event is Body decoded; zero when it is not an event.
	Event model.Event
}

func (h *HookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := HookRequest{At: time.Now(), ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
		Signature: r.Header.Get("webhook-signature"), Body: body}
	_ = json.Unmarshal(body, &req.Event)
	h.mu.Lock()
	h.got = append(h.got, req)
	status := h.Status
	h.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

// Requests returns the requests so far, in arrival order.
func (h *HookReceiver) Requests() []HookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}
