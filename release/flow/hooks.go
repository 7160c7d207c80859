package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/opshub/opshub/release/webhook"
)

// HookAnswer is the answer to a webhook call: Code is the HTTP status,
// Run the started run's id (202), Skipped why no run started (200), Error
// why the call was refused (401, 404, 413).
type HookAnswer struct {
	Code    int    `json:"-"`
	Run     string `json:"run,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// deliveryKeep is how long a webhook delivery id is remembered.
const deliveryKeep = 7 * 24 * time.Hour

// Hook handles POST /hooks/flows/{name}: it checks the signature against
// each webhook trigger's secret, drops a delivery seen before, filters push
// payloads by the trigger's branch and [skip ci], and starts a run with the
// query parameters and the push's sha, branch and repository as
// arguments.
func (e *Engine) Hook(name string, r *http.Request) HookAnswer {
	s := e.flow(name)
	if s == nil || len(s.Webhooks) == 0 {
		return HookAnswer{Code: http.StatusNotFound, Error: fmt.Sprintf("no flow %q with a webhook trigger", name)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBody+1))
	if err != nil {
		return HookAnswer{Code: http.StatusBadRequest, Error: "read body: " + err.Error()}
	}
	if len(body) > webhook.MaxBody {
		return HookAnswer{Code: http.StatusRequestEntityTooLarge, Error: webhook.ErrTooLarge.Error()}
	}
	var (
		d       webhook.Delivery
		trigger *Webhook
		last    error
	)
	for i := range s.Webhooks {
		r.Body = io.NopCloser(bytes.NewReader(body))
		d, err = webhook.Read(r, s.Webhooks[i].Secret, e.opts.Now())
		if err == nil {
			trigger = &s.Webhooks[i]
			break
		}
		if last == nil || !errors.Is(err, webhook.ErrBadSignature) {
			last = err
		}
	}
	if trigger == nil {
		return HookAnswer{Code: http.StatusUnauthorized, Error: last.Error()}
	}
	if d.ID != "" {
		key := name + "/" + d.Provider + "/" + d.ID
		if _, seen, _ := e.seen.Get(key); seen {
			return HookAnswer{Code: http.StatusOK, Skipped: "duplicate delivery " + d.ID}
		}
		if err := e.seen.Put(key, e.opts.Now()); err != nil {
			e.log.Error("record webhook delivery", "error", err)
		}
		e.forgetDeliveries()
	}
	args := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			args[k] = v[len(v)-1]
		}
	}
	push, isPush, _ := webhook.ParsePush(d.Body)
	switch {
	case isPush && trigger.Branch != "" && push.Branch != trigger.Branch:
		return HookAnswer{Code: http.StatusOK, Skipped: fmt.Sprintf("branch %q is not watched (this trigger watches %q)", push.Branch, trigger.Branch)}
	case isPush && push.SkipCI():
		return HookAnswer{Code: http.StatusOK, Skipped: "the head commit asks to be skipped ([skip ci])"}
	case !isPush && trigger.Branch != "":
		event := d.Event
		if event == "" {
			event = "a call without a push payload"
		}
		return HookAnswer{Code: http.StatusOK, Skipped: fmt.Sprintf("not a push (%s); this trigger starts runs for pushes to %q", event, trigger.Branch)}
	}
	if isPush {
		args["SHA"], args["BRANCH"], args["REPO"] = push.SHA, push.Branch, push.Repository
	}
	run, err := e.Start(name, Trigger{Kind: TriggerWebhook, Provider: d.Provider, Delivery: d.ID}, args)
	switch {
	case errors.Is(err, ErrForbidden):
		return HookAnswer{Code: http.StatusOK, Skipped: "a run is queued or running and the flow's concurrency is forbid"}
	case errors.As(err, new(ArgError)):
		return HookAnswer{Code: http.StatusBadRequest, Error: err.Error()}
	case err != nil:
		return HookAnswer{Code: http.StatusServiceUnavailable, Error: err.Error()}
	}
	return HookAnswer{Code: http.StatusAccepted, Run: run.ID}
}

// forgetDeliveries drops delivery ids older than deliveryKeep.
func (e *Engine) forgetDeliveries() {
	all, err := e.seen.List()
	if err != nil {
		return
	}
	cutoff := e.opts.Now().Add(-deliveryKeep)
	for _, ent := range all {
		if ent.Value.Before(cutoff) {
			_ = e.seen.Delete(ent.Key)
		}
	}
}
