package config

import "testing"

// Links in notifications must be reachable: never "http://:7420".
func TestServerBaseURL(t *testing.T) {
	for _, tc := range []struct {
		s    Server
		want string
	}{
		{Server{Listen: "127.0.0.1:7420"}, "http://127.0.0.1:7420"},
		{Server{Listen: ":7420"}, "http://127.0.0.1:7420"},
		{Server{Listen: "0.0.0.0:7420"}, "http://127.0.0.1:7420"},
		{Server{Listen: "[::1]:7420"}, "http://[::1]:7420"},
		{Server{Listen: ":7420", ExternalURL: "https://opshub.example.com/"}, "https://opshub.example.com"},
	} {
		if got := tc.s.BaseURL(); got != tc.want {
			t.Errorf("%+v: BaseURL() = %q, want %q", tc.s, got, tc.want)
		}
	}
}
