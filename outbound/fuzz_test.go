package outbound

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzClassify: every answer a destination (Loki, Datadog, an HTTP sink, a
// notifier) can give classifies without panicking; a Retry-After, whatever
// it says, is a wait between 0 and MaxRetryAfter; the reason kept is
// bounded and stays valid UTF-8 when the body was.
func FuzzClassify(f *testing.F) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, seed := range []struct {
		code       int
		retryAfter string
		body       string
	}{
		{429, "2", `{"message":"rate limited"}`},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), "upstream unavailable"},
		{500, "1.5", ""},
		{400, "", "entry for stream '{app=\"web\"}' has timestamp too old"},
		{413, "", `{"errors":["Request too large"]}`},
		{429, "1e300", ""},
		{503, "NaN", ""},
		{503, "Sun, 06 Nov 1994 08:49:37 GMT", ""},
		{400, "", "x" + strings.Repeat("é", 300)},
	} {
		f.Add(seed.code, seed.retryAfter, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, code int, retryAfter string, body []byte) {
		code = 100 + (code%500+500)%500
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		err := Classify(code, h, body, now)
		if code >= 200 && code < 300 {
			if err != nil {
				t.Fatalf("%d: %v", code, err)
			}
			return
		}
		var serr *StatusError
		if !errors.As(err, &serr) || serr.Code != code {
			t.Fatalf("%d: got %#v, want a StatusError with the code", code, err)
		}
		if n := utf8.RuneCountInString(serr.Body); n > MaxErrorBody+1 {
			t.Fatalf("reason of %d runes kept", n)
		}
		if utf8.Valid(body) && !utf8.ValidString(serr.Body) {
			t.Fatalf("reason %q is not valid UTF-8", serr.Body)
		}
		after, retryable := RetryAfterOf(err)
		if retryable != Retryable(code) {
			t.Fatalf("%d: retryable %v", code, retryable)
		}
		if after < 0 || after > MaxRetryAfter {
			t.Fatalf("Retry-After %q gave a wait of %s", retryAfter, after)
		}
		if wait := (Backoff{Initial: time.Second, Max: time.Minute}).Wait(3, after, 1); wait < 0 || wait > max(time.Minute, MaxRetryAfter) {
			t.Fatalf("Retry-After %q gave a back-off of %s", retryAfter, wait)
		}
		if strings.TrimSpace(retryAfter) == "" && after != 0 {
			t.Fatalf("no Retry-After gave %s", after)
		}
	})
}
