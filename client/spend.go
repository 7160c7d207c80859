package client

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// SpendRow is one line of a spend breakdown.
type SpendRow struct {
	Project  string  `json:"project,omitempty"`
	Service  string  `json:"service,omitempty"`
	Instance string  `json:"instance,omitempty"`
	Resource string  `json:"resource,omitempty"`
	Cost     float64 `json:"cost"`
}

// Spend is the answer of GET /api/v1/spend.
type Spend struct {
	Currency  string  `json:"currency"`
	From      string  `json:"from"`
	To        string  `json:"to"`
	Total     float64 `json:"total"`
	Forecast  float64 `json:"forecast"`
	Forecasts struct {
		Month float64 `json:"month"`
		Week  float64 `json:"week"`
	} `json:"forecasts"`
	Rows []SpendRow `json:"rows"`
}

// Spend returns spend broken down by the given dimensions; zero times mean
// the server's defaults (the billing month so far).
func (c *Client) Spend(ctx context.Context, by []string, from, to time.Time) (Spend, error) {
	q := url.Values{}
	if len(by) > 0 {
		q.Set("by", strings.Join(by, ","))
	}
	if !from.IsZero() {
		q.Set("from", from.Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.Format(time.RFC3339))
	}
	var out Spend
	err := c.get(ctx, "/api/v1/spend", q, &out)
	return out, err
}
