package config

import (
	"encoding/json"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		printed string
	}{
		{"512", 512, "512"},
		{"256Ki", 256 << 10, "256Ki"},
		{"10Mi", 10 << 20, "10Mi"},
		{"1Gi", 1 << 30, "1Gi"},
		{"1G", 1e9, "1G"},
		{"1M", 1e6, "1M"},
		{"1k", 1000, "1k"},
		{"1K", 1000, "1k"},
		{"1.5Gi", 3 << 29, "1536Mi"},
		{"0.5k", 500, "500"},
		{"1.0001Ki", 1025, "1025"}, // rounded up to a whole byte
		{"2Ti", 2 << 40, "2Ti"},
		{"0", 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b ByteSize
			if err := b.setText(tt.in); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if b != tt.want {
				t.Errorf("got %d, want %d", b, tt.want)
			}
			if b.String() != tt.printed {
				t.Errorf("String() = %q, want %q", b.String(), tt.printed)
			}
		})
	}
	for _, bad := range []string{"", "-1", "1GB", "1 Gi", "lots", "1e3", "Gi", "99999999999Ei"} {
		var b ByteSize
		if err := b.setText(bad); err == nil {
			t.Errorf("%q parsed as %d, want an error", bad, b)
		}
	}
}

func TestCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    CPU
		printed string
	}{
		{"500m", 500, "500m"},
		{"1", 1000, "1"},
		{"0.5", 500, "500m"},
		{"2", 2000, "2"},
		{"1.5", 1500, "1500m"},
		{"0.0001", 1, "1m"}, // finer than a millicore rounds up, as in Kubernetes
		{"250m", 250, "250m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var c CPU
			if err := c.setText(tt.in); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if c != tt.want || c.String() != tt.printed {
				t.Errorf("got %d (%q), want %d (%q)", c, c.String(), tt.want, tt.printed)
			}
		})
	}
	for _, bad := range []string{"", "-1", "500M", "1 core", "1.5m.2"} {
		var c CPU
		if err := c.setText(bad); err == nil {
			t.Errorf("%q parsed as %d, want an error", bad, c)
		}
	}
}

func TestCPUFromYAMLNumbers(t *testing.T) {
	inTestDir(t)
	cfg, err := Parse([]byte("workloads:\n  - {name: a, command: [x], resources: {cpu: 2}}\n  - {name: b, command: [x], resources: {cpu: 0.25}}\n"), "cpu.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if got := []CPU{cfg.Workloads[0].Resources.CPU, cfg.Workloads[1].Resources.CPU}; got[0] != 2000 || got[1] != 250 {
		t.Errorf("cpu = %v, want [2000 250] millicores", got)
	}
	if cfg.Workloads[1].Resources.CPU.Cores() != 0.25 {
		t.Errorf("Cores() = %v, want 0.25", cfg.Workloads[1].Resources.CPU.Cores())
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		printed string
	}{
		{"90s", 90 * time.Second, "1m30s"},
		{"15m", 15 * time.Minute, "15m"},
		{"1h", time.Hour, "1h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"24h", 24 * time.Hour, "24h"},
		{"100ms", 100 * time.Millisecond, "100ms"},
		{"0s", 0, "0s"},
		{"0", 0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			if err := d.setText(tt.in); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if d.D() != tt.want || d.String() != tt.printed {
				t.Errorf("got %v (%q), want %v (%q)", d.D(), d.String(), tt.want, tt.printed)
			}
		})
	}
	for _, bad := range []string{"", "-5m", "30", "5mins", "1d"} {
		var d Duration
		if err := d.setText(bad); err == nil {
			t.Errorf("%q parsed as %v, want an error", bad, d.D())
		}
	}
}

// Destination packages decode Raw nodes with yaml.v3 directly; the unit
// types must work there, and marshal back as strings in JSON and YAML.
func TestUnitsWithYAMLAndJSON(t *testing.T) {
	var v struct {
		Timeout Duration `yaml:"timeout" json:"timeout"`
		Size    ByteSize `yaml:"size" json:"size"`
		CPU     CPU      `yaml:"cpu" json:"cpu"`
	}
	if err := yaml.Unmarshal([]byte("timeout: 90s\nsize: 10Mi\ncpu: 0.5\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.Timeout.D() != 90*time.Second || v.Size != 10*MiB || v.CPU != 500 {
		t.Errorf("decoded %+v", v)
	}
	if err := yaml.Unmarshal([]byte("size: lots\n"), &v); err == nil {
		t.Error("yaml.v3 accepted an invalid size")
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(j), `{"timeout":"1m30s","size":"10Mi","cpu":"500m"}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	y, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(y), "timeout: 1m30s\nsize: 10Mi\ncpu: 500m\n"; got != want {
		t.Errorf("YAML = %q, want %q", got, want)
	}
}
