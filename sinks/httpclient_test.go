package sinks

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

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

func TestLookupListsKnownTypes(t *testing.T) {
	if _, err := Lookup("test-known"); err != nil { // -count=N runs this again
		Register("test-known", func(Spec) (Destination, error) { return nil, nil })
	}
	if _, err := Lookup("test-known"); err != nil {
		t.Fatal(err)
	}
	_, err := Lookup("lokki")
	if err == nil || !strings.Contains(err.Error(), `"lokki"`) || !strings.Contains(err.Error(), "test-known") {
		t.Fatalf("error %v should name the type and list the known ones", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
	}{
		{"512", 512}, {"100Mi", 100 << 20}, {"1Gi", 1 << 30}, {"1.5Ki", 1536}, {"10M", 10e6},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}
