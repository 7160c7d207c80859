package alerting

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/store"
)

// worker delivers one integration's outbox in order, one message at a
// time: a destination that is down or rate-limiting holds its own queue
// and nobody else's.
type worker struct {
	p    *Pipeline
	in   Integration
	wake chan struct{}
	// pauseUntil is the earliest next send (rate limits).
	pauseUntil time.Time
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	log := w.p.log.With("integration", w.in.Name)
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
			w.save(d, nil)
			continue
		}
		at := d.NextAttempt
		if w.pauseUntil.After(at) {
			at = w.pauseUntil
		}
		if wait := at.Sub(w.p.now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		w.attempt(ctx, log, d)
	}
}

// next returns the oldest pending delivery of this integration.
func (w *worker) next() (Delivery, bool, error) {
	var d Delivery
	var found bool
	prefix := outboxKey(w.in.Name, "")
	err := w.p.opts.Store.View(func(tx *store.Tx) error {
		var id string
		err := w.p.outbox.EachTx(tx, func(key, v string) (bool, error) {
			if len(key) >= len(prefix) && key[:len(prefix)] == prefix {
				id = v
				return false, nil
			}
			return true, nil
		})
		if err != nil || id == "" {
			return err
		}
		d, found, err = w.p.deliveries.GetTx(tx, id)
		return err
	})
	return d, found, err
}

func (w *worker) attempt(ctx context.Context, log interface {
	Warn(string, ...any)
	Error(string, ...any)
}, d Delivery) {
	ref, _, _ := w.p.refs.Get(w.in.Name + "\x00" + d.AlertKey)
	msg := notify.Message{ID: d.ID, AlertKey: d.AlertKey, Event: d.Payload, Ref: ref}
	msg.Link, _ = d.Payload.Data["link"].(string)
	res, err := w.in.Notifier.Notify(ctx, msg)
	if ctx.Err() != nil {
		return // shutting down: the delivery stays pending as it was
	}
	now := w.p.now()
	d.Attempts++
	d.LastStatus, d.Request, d.Response, d.Time = res.StatusCode, res.Request, res.Response, now
	w.pauseUntil = now.Add(max(w.in.MinInterval, res.Pause))
	var retryable *notify.RetryableError
	var disable string
	switch {
	case err == nil:
		d.State, d.LastError, d.NextAttempt = DeliveryDelivered, "", time.Time{}
		w.p.metrics.attempts.WithLabelValues(w.in.Name, "ok").Inc()
		w.p.metrics.latency.WithLabelValues(w.in.Name).Observe(now.Sub(d.Payload.Time).Seconds())
	case errors.Is(err, notify.ErrGone):
		d.State, d.LastError = DeliveryFailed, err.Error()
		disable = "destination is gone: " + err.Error()
		w.p.metrics.attempts.WithLabelValues(w.in.Name, "gone").Inc()
	case errors.As(err, &retryable) && now.Sub(d.Created) < w.p.retry.GiveUpAfter:
		d.LastError = err.Error()
		d.NextAttempt = w.p.retry.nextAttempt(now, d.Attempts, retryable.RetryAfter, 0.8+0.4*rand.Float64())
		w.p.metrics.attempts.WithLabelValues(w.in.Name, "retry").Inc()
		log.Warn("delivery failed, will retry", "delivery", d.ID, "attempt", d.Attempts, "next_attempt", d.NextAttempt, "err", err)
	default:
		d.State, d.LastError = DeliveryFailed, err.Error()
		w.p.metrics.attempts.WithLabelValues(w.in.Name, "failed").Inc()
		log.Error("delivery failed for good", "delivery", d.ID, "attempts", d.Attempts, "err", err)
	}
	w.save(d, func(tx *store.Tx) error {
		st, _, err := w.p.integrations.GetTx(tx, w.in.Name)
		if err != nil {
			return err
		}
		st.Name, st.Type = w.in.Name, w.in.Type
		if st.State == "" {
			st.State = IntegrationActive
		}
		switch d.State {
		case DeliveryDelivered:
			st.Failures = 0
			if res.Ref != "" && d.Status != "resolved" {
				if err := w.p.refs.PutTx(tx, w.in.Name+"\x00"+d.AlertKey, res.Ref); err != nil {
					return err
				}
			}
		case DeliveryFailed:
			st.Failures++
			if disable == "" && st.Failures >= w.p.retry.DisableAfter {
				disable = "the last " + strconv.Itoa(st.Failures) + " deliveries failed: " + d.LastError
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

// save writes the delivery, takes it out of the outbox when it is no longer
// pending, and runs also in the same transaction.
func (w *worker) save(d Delivery, also func(tx *store.Tx) error) {
	err := w.p.opts.Store.Update(func(tx *store.Tx) error {
		if err := w.p.deliveries.PutTx(tx, d.ID, d); err != nil {
			return err
		}
		if d.State != DeliveryPending {
			if err := w.p.outbox.DeleteTx(tx, outboxKey(d.Integration, d.ID)); err != nil {
				return err
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		w.p.log.Error("recording delivery", "integration", w.in.Name, "delivery", d.ID, "err", err)
	}
}
