// Package webhook reads the signed inbound calls that trigger release
// flows (POST /hooks/flows/{name}): it caps the body, verifies the
// signature of GitHub (X-Hub-Signature-256), GitLab (X-Gitlab-Token) or
// Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) in
// constant time, and reads push payloads (branch, head commit, repository,
// [skip ci]).
//
// It decides nothing about flows: which branch a trigger watches, whether a
// delivery was seen before and what run to start belong to the caller.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody is the largest body read; a longer one is refused (413).
const MaxBody = 1 << 20

// Tolerance is how far a Standard Webhooks timestamp may be from now.
const Tolerance = 5 * time.Minute

// Errors a caller maps onto HTTP answers: ErrTooLarge is 413, the others 401.
var (
	ErrTooLarge     = fmt.Errorf("body larger than %d bytes", MaxBody)
	ErrUnsigned     = errors.New("no signature: send X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or webhook-signature (Standard Webhooks)")
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = fmt.Errorf("webhook-timestamp is more than %s away from now", Tolerance)
)

// Providers.
const (
	GitHub           = "github"
	GitLab           = "gitlab"
	StandardWebhooks = "standard-webhooks"
)

// Delivery is a verified call.
type Delivery struct {
	Provider string
	// ID identifies the delivery for de-duplication (X-GitHub-Delivery,
	// X-Gitlab-Event-UUID, webhook-id); "" when the sender sent none.
	ID string
	// Event is the sender's event name (push, Push Hook, …); "" when none.
	Event string
	Body  []byte
}

// Read reads r's body (at most MaxBody) and verifies its signature with
// secret. now is the time Standard Webhooks timestamps are checked against.
func Read(r *http.Request, secret []byte, now time.Time) (Delivery, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return Delivery{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > MaxBody {
		return Delivery{}, ErrTooLarge
	}
	h := r.Header
	switch {
	case h.Get("X-Hub-Signature-256") != "":
		d := Delivery{Provider: GitHub, ID: h.Get("X-GitHub-Delivery"), Event: h.Get("X-GitHub-Event"), Body: body}
		return d, verifyGitHub(h.Get("X-Hub-Signature-256"), secret, body)
	case h.Get("X-Gitlab-Token") != "":
		d := Delivery{Provider: GitLab, ID: h.Get("X-Gitlab-Event-UUID"), Event: h.Get("X-Gitlab-Event"), Body: body}
		if subtle.ConstantTimeCompare([]byte(h.Get("X-Gitlab-Token")), secret) != 1 {
			return d, ErrBadSignature
		}
		return d, nil
	case h.Get("webhook-signature") != "":
		d := Delivery{Provider: StandardWebhooks, ID: h.Get("webhook-id"), Body: body}
		return d, verifyStandard(h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"), secret, body, now)
	}
	return Delivery{}, ErrUnsigned
}

// verifyGitHub checks "sha256=<hex HMAC-SHA256 of the body>".
func verifyGitHub(header string, secret, body []byte) error {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// StandardKey is the HMAC key of a Standard Webhooks secret: a "whsec_"
// secret is base64 after the prefix, any other is used as it is.
func StandardKey(secret []byte) []byte {
	if b64, ok := bytes.CutPrefix(secret, []byte("whsec_")); ok {
		if key, err := base64.StdEncoding.DecodeString(string(b64)); err == nil {
			return key
		}
	}
	return secret
}

// SignStandard returns the webhook-signature value for a delivery, as a
// sender computes it.
func SignStandard(id string, ts time.Time, secret, body []byte) string {
	mac := hmac.New(sha256.New, StandardKey(secret))
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verifyStandard checks a Standard Webhooks delivery: a timestamp within
// Tolerance and one of the space-separated "v1,<base64>" signatures of
// "id.timestamp.body".
func verifyStandard(id, timestamp, signatures string, secret, body []byte, now time.Time) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || id == "" {
		return ErrBadSignature
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-Tolerance)) || ts.After(now.Add(Tolerance)) {
		return ErrStale
	}
	mac := hmac.New(sha256.New, StandardKey(secret))
	fmt.Fprintf(mac, "%s.%s.", id, timestamp)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(signatures) {
		b64, ok := strings.CutPrefix(s, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
