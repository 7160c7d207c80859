// Package alerting turns what happens to containers into notifications:
// detectors make model.Events out of platform signals, and the pipeline
// passes each event through silences, a throttle per event kind × resource,
// routing by integration filters and a durable outbox to the notifiers of
// alerting/notify, with per-destination rate limits, retries, idempotency
// keys and automatic disabling of integrations that keep failing.
//
// Everything that must survive a restart (alert state, throttle windows, the
// outbox and delivery history, disabled integrations) is in store, so a
// restart neither loses a pending notification nor repeats one that was
// acknowledged.
//
// The package must not know any destination's wire format (that is
// alerting/notify/<kind>) nor any platform's internals: it sees
// model.InstanceEvent values and ready-made model.Events.
package alerting
