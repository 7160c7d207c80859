package alerting

import (
	"time"

	"github.com/opshub/opshub/model"
)

// Delivery states.
const (
	// DeliveryPending waits in the outbox for its (next) attempt.
	DeliveryPending = "pending"
	// DeliveryDelivered was accepted by the destination.
	DeliveryDelivered = "delivered"
	// DeliveryFailed was given up: a permanent error, the give-up time
	// passed, or the destination is gone.
	DeliveryFailed = "failed"
	// DeliverySkipped was not attempted because its integration is disabled.
	DeliverySkipped = "skipped"
)

// Delivery is one notification of one event to one integration, with its
// history. The first fields are the API's contract; the rest are details.
type Delivery struct {
	ID          string    `json:"id"`
	Integration string    `json:"integration"`
	Event       string    `json:"event"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	LastStatus  int       `json:"lastStatus"`
	Time        time.Time `json:"time"`

	// Status is the event's: firing or resolved.
	Status      string    `json:"status"`
	AlertKey    string    `json:"alertKey"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	// Request and Response summarise the last attempt.
	Request  string `json:"request,omitempty"`
	Response string `json:"response,omitempty"`
	// ResendOf is the delivery this one repeats on request.
	ResendOf string      `json:"resendOf,omitempty"`
	Payload  model.Event `json:"payload"`
}

// Alert is the state of one alert (an event name on one resource).
type Alert struct {
	ID       string    `json:"id"`
	Event    string    `json:"event"`
	Status   string    `json:"status"`
	Project  string    `json:"project,omitempty"`
	Service  string    `json:"service,omitempty"`
	Instance string    `json:"instance,omitempty"`
	Since    time.Time `json:"since"`

	Key      string    `json:"key"`
	Summary  string    `json:"summary"`
	Updated  time.Time `json:"updated"`
	Severity string    `json:"severity"`
	// Notified is whether this firing was sent anywhere (else, being
	// throttled or silenced, its resolution is not sent either).
	Notified bool `json:"notified"`
}

// Integration states.
const (
	IntegrationActive   = "active"
	IntegrationDisabled = "disabled"
)

// IntegrationStatus is what users see of an integration's health.
type IntegrationStatus struct {
	Name   string    `json:"name"`
	Type   string    `json:"type"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// Failures counts deliveries failed in a row.
	Failures int `json:"failures"`
	// Fingerprint identifies the config the state belongs to: a changed
	// config re-enables a disabled integration.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Store bucket names.
const (
	bucketDeliveries   = "alerting.deliveries"
	bucketOutbox       = "alerting.outbox" // integration\x00deliveryID → deliveryID, pending only
	bucketAlerts       = "alerting.alerts"
	bucketThrottle     = "alerting.throttle"
	bucketRefs         = "alerting.refs" // integration\x00alertKey → notifier's message ref
	bucketIntegrations = "alerting.integrations"
)

func outboxKey(integration, id string) string { return integration + "\x00" + id }
