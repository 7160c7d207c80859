package server

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// heldSamples answers with the samples recorded after since.
type heldSamples struct {
	recorded []time.Time
	samples  []model.Sample
}

func (h heldSamples) SamplesSince(since time.Time) (string, []model.Sample, time.Time) {
	var out []model.Sample
	next := since
	for i, at := range h.recorded {
		if at.After(since) {
			out = append(out, h.samples[i])
			next = at
		}
	}
	return "node-a", out, next
}

func TestNodeSamples(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	held := heldSamples{
		recorded: []time.Time{t0, t0.Add(15 * time.Second)},
		samples: []model.Sample{
			{Ref: model.Ref{Project: "shop", Service: "web", Instance: "web-1", Container: "web"}, Type: model.MetricCPU, Time: t0, Value: 0.25},
			{Ref: model.Ref{Project: "shop", Service: "db"}, Type: model.MetricVolumeUsed, Volume: "data-db-0", Time: t0.Add(15 * time.Second), Value: 920},
		},
	}
	h := newTestServer(t, Options{NodeSamples: held}).Handler()
	for _, tc := range []struct {
		name, query string
		want        int
		next        time.Time
	}{
		{"everything held", "", 2, t0.Add(15 * time.Second)},
		{"after a cursor", "?since=" + t0.Format(time.RFC3339Nano), 1, t0.Add(15 * time.Second)},
		{"nothing new keeps the cursor", "?since=" + t0.Add(time.Minute).Format(time.RFC3339Nano), 0, t0.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "GET", "/api/v1/node/samples"+tc.query, "127.0.0.1:5555", "")
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var body struct {
				Node    string
				Samples []model.Sample
				Next    time.Time
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Node != "node-a" || len(body.Samples) != tc.want || !body.Next.Equal(tc.next) || body.Samples == nil {
				t.Errorf("got %s", rec.Body)
			}
		})
	}
	t.Run("a bad since names the parameter", func(t *testing.T) {
		rec := do(t, h, "GET", "/api/v1/node/samples?since=5m", "127.0.0.1:5555", "")
		if rec.Code != 400 || !json.Valid(rec.Body.Bytes()) || !containsField(rec.Body.Bytes(), "since") {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("the series form writes each series once with its points in milliseconds", func(t *testing.T) {
		rec := do(t, h, "GET", "/api/v1/node/samples?form=series", "127.0.0.1:5555", "")
		want := `{"node":"node-a","series":[` +
			`{"project":"shop","service":"web","instance":"web-1","container":"web","type":"cpu","points":[[1795514400000,0.25]]},` +
			`{"project":"shop","service":"db","type":"volume-used","volume":"data-db-0","points":[[1795514415000,920]]}],` +
			`"next":"2026-11-24T10:00:15Z"}` + "\n"
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("status %d:\n%s\nwant\n%s", rec.Code, rec.Body, want)
		}
		rec = do(t, h, "GET", "/api/v1/node/samples?form=series&since="+t0.Add(time.Minute).Format(time.RFC3339Nano), "127.0.0.1:5555", "")
		if want := `{"node":"node-a","series":[],"next":"2026-11-24T10:01:00Z"}` + "\n"; rec.Body.String() != want {
			t.Errorf("nothing new: %s, want %s", rec.Body, want)
		}
	})
	t.Run("a bad form names the parameter", func(t *testing.T) {
		rec := do(t, h, "GET", "/api/v1/node/samples?form=columns", "127.0.0.1:5555", "")
		if rec.Code != 400 || !containsField(rec.Body.Bytes(), "form") {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("a server without node samples answers 404", func(t *testing.T) {
		rec := do(t, newTestServer(t, Options{}).Handler(), "GET", "/api/v1/node/samples", "127.0.0.1:5555", "")
		if rec.Code != 404 {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

func containsField(body []byte, field string) bool {
	var e struct{ Field string }
	return json.Unmarshal(body, &e) == nil && e.Field == field
}

// reviewer knows a few tokens.
type reviewer map[string]struct {
	identity string
	allowed  bool
}

func (r reviewer) Review(_ context.Context, token string) (string, bool, error) {
	if token == "down" {
		return "", false, errors.New("connection refused")
	}
	a := r[token]
	return a.identity, a.allowed, nil
}

func TestTokenReviewedAccess(t *testing.T) {
	rv := reviewer{
		"controller": {"system:serviceaccount:opshub:opshub-controller", true},
		"someone":    {"system:serviceaccount:shop:default", false},
	}
	h := newTestServer(t, Options{TokenReviewer: rv, NodeSamples: heldSamples{}}).Handler()
	for _, tc := range []struct {
		name, method, path, remote, token string
		want                              int
	}{
		{"loopback needs no token", "GET", "/api/v1/node/samples", "127.0.0.1:5555", "", 200},
		{"remote without a token", "GET", "/api/v1/node/samples", "10.1.2.3:5555", "", 401},
		{"remote with the controller's token", "GET", "/api/v1/node/samples", "10.1.2.3:5555", "controller", 200},
		{"remote with the controller's token on /metrics", "GET", "/metrics", "10.1.2.3:5555", "controller", 200},
		{"an identity not allowed", "GET", "/api/v1/node/samples", "10.1.2.3:5555", "someone", 403},
		{"a token nobody vouches for", "GET", "/api/v1/node/samples", "10.1.2.3:5555", "forged", 401},
		{"the reviewer cannot answer", "GET", "/api/v1/node/samples", "10.1.2.3:5555", "down", 503},
		{"reviewed identities only read", "POST", "/api/v1/sinks/x/pause", "10.1.2.3:5555", "controller", 403},
		{"health needs nothing", "GET", "/healthz", "10.1.2.3:5555", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := do(t, h, tc.method, tc.path, tc.remote, tc.token); rec.Code != tc.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
		})
	}
}
