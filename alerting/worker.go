package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// worker delivers one integration's outbox in order, one message at a
// time: a destination that is down or rate-limiting holds its own queue
// and nobody else's.
type worker struct {
	p     *Pipeline
	in    Integration
	retry RetryPolicy // the integration's own, over the pipeline's
	wake  chan struct{}
	// pauseUntil is the earliest next send (rate limits), set at pausedAt.
	pauseUntil, pausedAt time.Time
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	log := w.p.log.With("integration", w.in.Name)
	grouper, _ := w.in.Notifier.(notify.Grouper)
	for ctx.Err() == nil {
		d, ok, err := w.next()
		if err != nil {
			log.Error("reading outbox", "err", err)
		}
		if err != nil || !ok {
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		st, _, err := w.p.integrations.Get(w.in.Name)
		if err != nil {
			log.Error("reading integration state", "err", err)
		}
		if st.State == IntegrationDisabled {
			d.State, d.LastError, d.Time = DeliverySkipped, "integration disabled: "+st.Reason, w.p.now()
			w.save([]Delivery{d}, nil)
			continue
		}
		now := w.p.now()
		planned := d.Created // when NextAttempt was set: queued, or the last attempt
		if d.Time.After(planned) {
			planned = d.Time
		}
		at := rebased(d.NextAttempt, planned, now)
		if p := rebased(w.pauseUntil, w.pausedAt, now); p.After(at) {
			at = p
		}
		if grouper != nil && d.Attempts == 0 && w.p.opts.GroupWait > 0 {
			// Let a burst gather so that it goes out as one message.
			if g := rebased(d.Created.Add(w.p.opts.GroupWait), d.Created, now); g.After(at) {
				at = g
			}
		}
		if wait := at.Sub(now); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		group := []Delivery{d}
		if grouper != nil && grouper.MaxGroup() > 1 {
			if more, err := w.groupWith(d, grouper.MaxGroup(), w.p.now()); err == nil {
				group = append(group, more...)
			}
		}
		w.attempt(ctx, log, group)
	}
}

// rebased is until, a time planned at from by the wall clock, moved to
// count from now when from lies after now (the clock stepped back): the
// wait stays as long as planned instead of growing by the step.
func rebased(until, from, now time.Time) time.Time {
	if until.IsZero() || !from.After(now) {
		return until
	}
	return now.Add(until.Sub(from))
}

// next returns the oldest pending delivery of this integration.
func (w *worker) next() (Delivery, bool, error) {
	var d Delivery
	var found bool
	err := w.p.opts.Store.View(func(tx *store.Tx) error {
		ids, err := w.pendingIDs(tx, 1)
		if err != nil || len(ids) == 0 {
			return err
		}
		d, found, err = w.p.deliveries.GetTx(tx, ids[0])
		return err
	})
	return d, found, err
}

// pendingIDs lists up to limit pending delivery ids of this integration,
// oldest first.
func (w *worker) pendingIDs(tx *store.Tx, limit int) ([]string, error) {
	prefix := outboxKey(w.in.Name, "")
	var ids []string
	err := w.p.outbox.EachTx(tx, func(key, id string) (bool, error) {
		if strings.HasPrefix(key, prefix) {
			ids = append(ids, id)
		}
		return len(ids) < limit, nil
	})
	return ids, err
}

// groupWith finds pending deliveries that can share head's message: the
// same event and status, due by now, not resends, at most max-1 of them.
func (w *worker) groupWith(head Delivery, max int, now time.Time) ([]Delivery, error) {
	var out []Delivery
	err := w.p.opts.Store.View(func(tx *store.Tx) error {
		ids, err := w.pendingIDs(tx, 10*max)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id == head.ID || len(out) >= max-1 {
				continue
			}
			d, ok, err := w.p.deliveries.GetTx(tx, id)
			if err != nil {
				return err
			}
			if ok && d.Event == head.Event && d.Status == head.Status && d.ResendOf == "" && head.ResendOf == "" && !d.NextAttempt.After(now) {
				out = append(out, d)
			}
		}
		return nil
	})
	return out, err
}

func (w *worker) attempt(ctx context.Context, log *slog.Logger, group []Delivery) {
	msgs := make([]notify.Message, len(group))
	for i, d := range group {
		ref := ""
		if len(group) == 1 {
			ref, _, _ = w.p.refs.Get(w.in.Name + "\x00" + d.AlertKey)
		}
		msgs[i] = notify.Message{ID: d.ID, AlertKey: d.AlertKey, Event: d.Payload, Ref: ref}
		msgs[i].Link, _ = d.Payload.Data["link"].(string)
	}
	var res notify.Result
	var err error
	if len(msgs) == 1 {
		res, err = w.in.Notifier.Notify(ctx, msgs[0])
	} else {
		res, err = w.in.Notifier.(notify.Grouper).NotifyGroup(ctx, msgs)
	}
	if ctx.Err() != nil {
		return // shutting down: the deliveries stay pending as they were
	}
	now := w.p.now()
	w.pauseUntil, w.pausedAt = now.Add(max(w.in.MinInterval, res.Pause)), now
	var retryable *notify.RetryableError
	var disable, state, lastErr, result string
	var next time.Time
	switch {
	case err == nil:
		state, result = DeliveryDelivered, "ok"
	case errors.Is(err, notify.ErrGone):
		state, lastErr, result = DeliveryFailed, err.Error(), "gone"
		disable = "destination is gone: " + err.Error()
	case errors.As(err, &retryable):
		// A retry due after the give-up time is not made.
		next = w.retry.nextAttempt(now, group[0].Attempts+1, retryable.RetryAfter, 0.8+0.4*rand.Float64())
		if giveUp := group[0].Created.Add(w.retry.GiveUpAfter); next.After(giveUp) {
			next = time.Time{}
			state, lastErr, result = DeliveryFailed, fmt.Sprintf("gave up %s after it was queued: %v", w.retry.GiveUpAfter, err), "failed"
			log.Error("delivery given up", "delivery", group[0].ID, "group", len(group), "attempts", group[0].Attempts+1, "give_up_after", w.retry.GiveUpAfter, "err", err)
			break
		}
		state, lastErr, result = DeliveryPending, err.Error(), "retry"
		log.Warn("delivery failed, will retry", "delivery", group[0].ID, "group", len(group), "attempt", group[0].Attempts+1, "next_attempt", next, "err", err)
	default:
		state, lastErr, result = DeliveryFailed, err.Error(), "failed"
		log.Error("delivery failed for good", "delivery", group[0].ID, "group", len(group), "attempts", group[0].Attempts+1, "err", err)
	}
	w.p.metrics.attempts.WithLabelValues(w.in.Name, result).Add(float64(len(group)))
	for i := range group {
		d := &group[i]
		d.Attempts++
		d.LastStatus, d.Request, d.Response, d.Time = res.StatusCode, res.Request, res.Response, now
		d.State, d.LastError, d.NextAttempt = state, lastErr, next
		if state == DeliveryDelivered {
			w.p.metrics.latency.WithLabelValues(w.in.Name).Observe(now.Sub(d.Payload.Time).Seconds())
		}
	}
	w.save(group, func(tx *store.Tx) error {
		st, _, err := w.p.integrations.GetTx(tx, w.in.Name)
		if err != nil {
			return err
		}
		st.Name, st.Type = w.in.Name, w.in.Type
		if st.State == "" {
			st.State = IntegrationActive
		}
		switch state {
		case DeliveryDelivered:
			st.Failures = 0
			if d := group[0]; len(group) == 1 && res.Ref != "" && d.Status != model.StatusResolved {
				if err := w.p.refs.PutTx(tx, w.in.Name+"\x00"+d.AlertKey, res.Ref); err != nil {
					return err
				}
			}
		case DeliveryFailed:
			st.Failures++
			if disable == "" && st.Failures >= w.retry.DisableAfter {
				disable = "the last " + strconv.Itoa(st.Failures) + " deliveries failed: " + lastErr
			}
		}
		if disable != "" && st.State != IntegrationDisabled {
			st.State, st.Reason, st.Since = IntegrationDisabled, disable, now
			log.Error("integration disabled", "reason", disable)
			w.p.metrics.disabled.WithLabelValues(w.in.Name).Set(1)
		}
		return w.p.integrations.PutTx(tx, w.in.Name, st)
	})
}

// save writes the deliveries, takes those no longer pending out of the
// outbox, and runs also, all in one transaction.
func (w *worker) save(ds []Delivery, also func(tx *store.Tx) error) {
	err := w.p.opts.Store.Update(func(tx *store.Tx) error {
		for _, d := range ds {
			if err := w.p.deliveries.PutTx(tx, d.ID, d); err != nil {
				return err
			}
			if d.State != DeliveryPending {
				if err := w.p.outbox.DeleteTx(tx, outboxKey(d.Integration, d.ID)); err != nil {
					return err
				}
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		w.p.log.Error("recording deliveries", "integration", w.in.Name, "delivery", ds[0].ID, "err", err)
	}
}
