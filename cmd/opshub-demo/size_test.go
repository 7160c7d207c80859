package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1000", want: 1000},
		{in: "0", want: 0},
		{in: "256Mi", want: 256 << 20},
		{in: "1Gi", want: 1 << 30},
		{in: "1Ki", want: 1024},
		{in: "2Ti", want: 2 << 40},
		{in: "1.5Gi", want: 3 << 29},
		{in: "64k", want: 64000},
		{in: "64K", want: 64000},
		{in: "10M", want: 10_000_000},
		{in: "1G", want: 1_000_000_000},
		{in: " 7Mi ", want: 7 << 20},
		{in: "", wantErr: true},
		{in: "Mi", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "-1Mi", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "1Xi", wantErr: true},
		{in: "NaNMi", wantErr: true},
		{in: "9999999Ti", wantErr: true},
		{in: "1e30", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseSize(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"1Mi/s": 1 << 20, "1Mi": 1 << 20, "500/s": 500} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := map[int64]string{0: "0", 1000: "1000", 1024: "1Ki", 256 << 20: "256Mi", 1 << 30: "1Gi", 3 << 29: "1536Mi", 1<<20 + 1: "1048577"}
	for in, want := range tests {
		if got := formatSize(in); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", in, got, want)
		}
		if back, err := parseSize(formatSize(in)); err != nil || back != in {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", in, back, err)
		}
	}
}
