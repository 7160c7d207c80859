package client

import (
	"context"
	"net/url"
	"time"
)

// Alert is one alert as GET /api/v1/alerts lists it.
type Alert struct {
	ID       string    `json:"id"`
	Event    string    `json:"event"`
	Status   string    `json:"status"`
	Project  string    `json:"project,omitempty"`
	Service  string    `json:"service,omitempty"`
	Instance string    `json:"instance,omitempty"`
	Since    time.Time `json:"since"`
	Summary  string    `json:"summary,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
	Severity string    `json:"severity,omitempty"`
}

// Delivery is one notification delivery as GET /api/v1/deliveries lists it.
type Delivery struct {
	ID          string    `json:"id"`
	Integration string    `json:"integration"`
	Event       string    `json:"event"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	LastStatus  int       `json:"lastStatus"`
	Time        time.Time `json:"time"`
	Status      string    `json:"status,omitempty"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	Request     string    `json:"request,omitempty"`
	Response    string    `json:"response,omitempty"`
	ResendOf    string    `json:"resendOf,omitempty"`
}

// Integration is a notification integration's state.
type Integration struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	State    string    `json:"state"`
	Reason   string    `json:"reason,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Failures int       `json:"failures"`
}

// Alerts lists active and recent alerts, firing first.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	var body struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := c.get(ctx, "/api/v1/alerts", nil, &body); err != nil {
		return nil, err
	}
	return body.Alerts, nil
}

// Deliveries lists notification deliveries, newest first, and the state of
// every integration.
func (c *Client) Deliveries(ctx context.Context) ([]Delivery, []Integration, error) {
	var body struct {
		Deliveries   []Delivery    `json:"deliveries"`
		Integrations []Integration `json:"integrations"`
	}
	if err := c.get(ctx, "/api/v1/deliveries", nil, &body); err != nil {
		return nil, nil, err
	}
	return body.Deliveries, body.Integrations, nil
}

// Resend queues delivery id's event again and returns the new delivery.
func (c *Client) Resend(ctx context.Context, id string) (Delivery, error) {
	var body struct {
		Delivery Delivery `json:"delivery"`
	}
	err := c.postEmpty(ctx, "/api/v1/deliveries/"+url.PathEscape(id)+"/resend", &body)
	return body.Delivery, err
}
