package vars

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"PORT": "31000", "OPSHUB_VOLUME_DATA": "/v/data", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct{ in, want string }{
		{"127.0.0.1:${PORT}", "127.0.0.1:31000"},
		{"${OPSHUB_VOLUME_DATA}/db", "/v/data/db"},
		{"${UNKNOWN}", "${UNKNOWN}"},
		{"$${PORT}", "${PORT}"},
		{"a$${PORT}b", "a${PORT}b"},
		{"${PORT", "${PORT"},
		{"no variables", "no variables"},
		{"$PORT stays", "$PORT stays"},
		{"${PORT}/${OPSHUB_VOLUME_DATA}", "31000//v/data"},
		{"[${EMPTY}]", "[]"},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, lookup); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{"data": "OPSHUB_VOLUME_DATA", "cache-dir": "OPSHUB_VOLUME_CACHE_DIR", "a.b": "OPSHUB_VOLUME_A_B"} {
		if got := Volume(in); got != want {
			t.Errorf("Volume(%q) = %q, want %q", in, got, want)
		}
	}
}
