package main

import (
	"bytes"
	"flag"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   []string
		check func(t *testing.T, c config)
	}{
		{
			name: "defaults",
			env:  []string{"OPSHUB_INSTANCE=web-1"},
			check: func(t *testing.T, c config) {
				want := config{listen: "127.0.0.1:8080", instance: "web-1", greeting: "hi"}
				if c != want {
					t.Errorf("config = %+v, want %+v", c, want)
				}
			},
		},
		{
			name: "listen on $PORT",
			env:  []string{"PORT=9001"},
			check: func(t *testing.T, c config) {
				expect(t, "listen", c.listen, "127.0.0.1:9001")
			},
		},
		{
			name: "--listen wins over $PORT",
			args: []string{"--listen", "0.0.0.0:7000"},
			env:  []string{"PORT=9001"},
			check: func(t *testing.T, c config) {
				expect(t, "listen", c.listen, "0.0.0.0:7000")
			},
		},
		{
			name: "no-http without a port has no listener",
			args: []string{"--no-http"},
			check: func(t *testing.T, c config) {
				expect(t, "listen", c.listen, "")
			},
		},
		{
			name: "no-http still listens on $PORT",
			args: []string{"--no-http"},
			env:  []string{"PORT=9001"},
			check: func(t *testing.T, c config) {
				expect(t, "listen", c.listen, "127.0.0.1:9001")
			},
		},
		{
			name: "environment sets a flag",
			env:  []string{"DEMO_LOG_RATE=5", "DEMO_MEMORY=256Mi", "DEMO_IGNORE_SIGTERM=true", "DEMO_EXIT_AFTER=2s"},
			check: func(t *testing.T, c config) {
				expect(t, "log rate", c.logRate, 5)
				expect(t, "memory", c.memory, 256<<20)
				expect(t, "ignore SIGTERM", c.ignoreSIGTERM, true)
				expect(t, "exit after", c.exitAfter, 2*time.Second)
			},
		},
		{
			name: "flag wins over environment",
			args: []string{"--log-rate", "7", "-memory=1Gi"},
			env:  []string{"DEMO_LOG_RATE=5", "DEMO_MEMORY=256Mi"},
			check: func(t *testing.T, c config) {
				expect(t, "log rate", c.logRate, 7)
				expect(t, "memory", c.memory, 1<<30)
			},
		},
		{
			name: "instance from flag, DEMO_INSTANCE, then OPSHUB_INSTANCE",
			args: []string{"--instance", "a"},
			env:  []string{"DEMO_INSTANCE=b", "OPSHUB_INSTANCE=c"},
			check: func(t *testing.T, c config) {
				expect(t, "instance", c.instance, "a")
			},
		},
		{
			name: "instance from OPSHUB_INSTANCE",
			env:  []string{"OPSHUB_INSTANCE=c", "OPSHUB_SERVICE=web", "OPSHUB_PROJECT=demo"},
			check: func(t *testing.T, c config) {
				expect(t, "instance", c.instance, "c")
				expect(t, "service", c.service, "web")
				expect(t, "project", c.project, "demo")
			},
		},
		{
			name: "instance defaults to the host name",
			check: func(t *testing.T, c config) {
				expect(t, "instance", c.instance, hostname())
			},
		},
		{
			name: "greeting from GREETING",
			env:  []string{"GREETING=hello"},
			check: func(t *testing.T, c config) {
				expect(t, "greeting", c.greeting, "hello")
			},
		},
		{
			name: "volume directory is the first OPSHUB_VOLUME_* by name",
			env:  []string{"OPSHUB_VOLUME_ZED=/z", "OPSHUB_VOLUME_ALPHA=/a", "OPSHUB_VOLUME_MIDDLE=/m"},
			args: []string{"--volume-write", "1Mi"},
			check: func(t *testing.T, c config) {
				expect(t, "volume dir", c.volumeDir, "/a")
				expect(t, "volume write", c.volumeWrite, 1<<20)
			},
		},
		{
			name: "--volume-dir wins",
			args: []string{"--volume-dir", "/mine", "--volume-rate", "1Mi/s"},
			env:  []string{"OPSHUB_VOLUME_ALPHA=/a"},
			check: func(t *testing.T, c config) {
				expect(t, "volume dir", c.volumeDir, "/mine")
				expect(t, "volume rate", c.volumeRate, 1<<20)
			},
		},
		{
			name: "crash signal by short name",
			args: []string{"--crash-signal", "abrt", "--exit-after", "1s"},
			check: func(t *testing.T, c config) {
				expect(t, "crash signal", c.crashSignal, syscall.SIGABRT)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, tt.env)
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func expect[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestParseConfigReportsEveryError(t *testing.T) {
	_, err := parseConfig(
		[]string{"--log-rate", "-1", "--exit-code", "300", "--volume-write", "1Mi", "--crash-signal", "SIGNOPE"},
		[]string{"DEMO_CPU=lots", "DEMO_LOG_SIZE=1Gi"},
	)
	if err == nil {
		t.Fatal("parseConfig accepted bad values")
	}
	for _, want := range []string{"DEMO_CPU=\"lots\"", "log-rate", "exit-code", "volume-write", "SIGNOPE", "log-size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseConfigRejectsArguments(t *testing.T) {
	if _, err := parseConfig([]string{"serve"}, nil); err == nil {
		t.Error("parseConfig accepted a positional argument")
	}
	if _, err := parseConfig([]string{"--bogus"}, nil); err == nil {
		t.Error("parseConfig accepted an unknown flag")
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, nil, &stdout, &stderr); code != 0 {
		t.Errorf("--help exited %d, want 0", code)
	}
	if !strings.HasPrefix(stdout.String(), "Usage: opshub-demo") {
		t.Errorf("--help printed %q", stdout.String())
	}

	stdout.Reset()
	if code := run([]string{"--log-rate", "x"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("a bad flag exited %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "log-rate") || stdout.Len() != 0 {
		t.Errorf("a bad flag printed stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// TestHelpMatchesControl keeps --help honest: every flag it calls live can
// be changed through /control, and every /control parameter is either such
// a flag or listed in the help's control section.
func TestHelpMatchesControl(t *testing.T) {
	var help bytes.Buffer
	printUsage(&help)
	documented := map[string]bool{}
	section := help.String()[strings.Index(help.String(), "Control parameters"):]
	for _, m := range regexp.MustCompile(`(?m)(?:^\s+|\[)([a-z-]+)=`).FindAllStringSubmatch(section, -1) {
		documented[controlName(m[1])] = true
	}
	newFlagSet(&flagValues{}).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help.String(), "-"+f.Name+" ") && !strings.Contains(help.String(), "-"+f.Name+"\n") {
			t.Errorf("--help does not list flag %s", f.Name)
		}
		if strings.Contains(f.Usage, "(live") {
			if _, ok := controlParams[controlName(f.Name)]; !ok {
				t.Errorf("flag %s says live, but /control has no %s", f.Name, controlName(f.Name))
			}
			documented[controlName(f.Name)] = true
		}
	})
	for name := range controlParams {
		if !documented[name] {
			t.Errorf("/control parameter %s is not in --help", name)
		}
	}
}

func TestEnvName(t *testing.T) {
	expect(t, "env name", envName("log-rate"), "DEMO_LOG_RATE")
	expect(t, "env name", envName("ignore-sigterm"), "DEMO_IGNORE_SIGTERM")
}
