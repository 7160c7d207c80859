package outbound

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Every caller classifies answers the same way: 408, 429 and 5xx are
// retried, with the Retry-After they carry; other codes are final.
func TestCheckResponseClassifies(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		code       int
		retryAfter string
		retryable  bool
		wantAfter  time.Duration
		wantNilErr bool
	}{
		{name: "204 is delivered", code: 204, wantNilErr: true},
		{name: "429 with seconds", code: 429, retryAfter: "2", retryable: true, wantAfter: 2 * time.Second},
		{name: "503 with a date", code: 503, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat), retryable: true, wantAfter: 90 * time.Second},
		{name: "500 without a hint", code: 500, retryable: true},
		{name: "408 is retried", code: 408, retryable: true},
		{name: "500 with seconds", code: 500, retryAfter: "1.5", retryable: true, wantAfter: 1500 * time.Millisecond},
		{name: "400 is final", code: 400},
		{name: "404 is final", code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.code, Header: http.Header{}, Body: http.NoBody}
			if tt.retryAfter != "" {
				resp.Header.Set("Retry-After", tt.retryAfter)
			}
			err := CheckResponse(resp, now)
			if tt.wantNilErr {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if IsRetryable(err) != tt.retryable {
				t.Fatalf("retryable = %v, want %v (%v)", IsRetryable(err), tt.retryable, err)
			}
			if re, ok := err.(*RetryableError); ok && re.RetryAfter != tt.wantAfter {
				t.Errorf("RetryAfter = %s, want %s", re.RetryAfter, tt.wantAfter)
			}
		})
	}
}

// Found by FuzzClassify: a Retry-After beyond a Duration's range converted
// to a negative wait, and one of days stalled the sink for days.
func TestParseRetryAfterIsBounded(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"1e300", MaxRetryAfter},
		{"1e400", MaxRetryAfter},
		{"86400", MaxRetryAfter},
		{"NaN", 0},
		{"+Inf", MaxRetryAfter},
		{"-Inf", 0},
		{"-5", 0},
		{"30", 30 * time.Second},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.value, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.value, got, tt.want)
		}
	}
}

// Found by FuzzClassify: a long reason was cut inside a character.
func TestSnippetCutsAtARune(t *testing.T) {
	got := Snippet([]byte("x" + strings.Repeat("é", 300)))
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || len(got) > MaxErrorBody+len("…") {
		t.Fatalf("Snippet gave %d bytes %q", len(got), got)
	}
}
