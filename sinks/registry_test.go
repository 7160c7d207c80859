package sinks

import (
	"strings"
	"testing"
)

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
