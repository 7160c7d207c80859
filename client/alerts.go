package client

import (
	"context"
	"net/url"

	"github.com/opshub/opshub/alerting"
)

// Alert is one alert as GET /api/v1/alerts lists it, Delivery one
// notification delivery as GET /api/v1/deliveries lists it and Integration
// an integration's state: the alerting pipeline's own types.
type (
	Alert       = alerting.Alert
	Delivery    = alerting.Delivery
	Integration = alerting.IntegrationStatus
)

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
