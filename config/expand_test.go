package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"HOME": "/home/u", "EMPTY": "", "TRICKY": "a${PORT}b"}
	x := expander{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	tests := []struct {
		name     string
		in       string
		mode     expandMode
		want     string
		problems []string
	}{
		{"plain text", "hello", 0, "hello", nil},
		{"a variable", "${HOME}/x", 0, "/home/u/x", nil},
		{"set but empty", "[${EMPTY}]", 0, "[]", nil},
		{"a lone dollar", "costs $5 or $HOME", 0, "costs $5 or $HOME", nil},
		{"escaped", "$${HOME}", 0, "${HOME}", nil},
		{"unset", "${NOPE}", 0, "", []string{"environment variable NOPE is not set"}},
		{"two unset", "${A1}${B2}", 0, "", []string{"environment variable A1 is not set", "environment variable B2 is not set"}},
		{"unterminated", "x${HOME", 0, "x${HOME", []string{"unterminated ${ (write $${ for a literal ${)"}},
		{"bad name", "${1X}", 0, "", []string{"invalid variable name in ${1X} (write $${ for a literal ${)"}},
		{"empty name", "${}", 0, "", []string{"invalid variable name in ${} (write $${ for a literal ${)"}},
		{"instance vars kept", "${PORT} ${OPSHUB_VOLUME_DATA} ${OPSHUB_REPLICA} ${HOME}", keepInstanceVars, "${PORT} ${OPSHUB_VOLUME_DATA} ${OPSHUB_REPLICA} /home/u", nil},
		{"instance vars elsewhere", "${PORT}", 0, "", []string{"environment variable PORT is not set"}},
		{"volume prefix alone is not kept", "${OPSHUB_VOLUME_}", keepInstanceVars, "", []string{"environment variable OPSHUB_VOLUME_ is not set"}},
		{"flow args kept", "${ARG_IMAGE}", keepArgVars, "${ARG_IMAGE}", nil},
		{"flow args not instance vars", "${PORT}", keepArgVars, "", []string{"environment variable PORT is not set"}},
		{"escape kept for run time", "$${HOME}", keepInstanceVars, "$${HOME}", nil},
		{"a value is not re-expanded at run time", "${TRICKY}", keepInstanceVars, "a$${PORT}b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := x.expand(tt.in, tt.mode)
			if len(tt.problems) == 0 && got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !reflect.DeepEqual(problems, tt.problems) {
				t.Errorf("problems = %q, want %q", problems, tt.problems)
			}
		})
	}
}

// Expansion happens on values after parsing: a variable cannot inject YAML,
// and lines stay those of the file.
func TestExpansionCannotInjectYAML(t *testing.T) {
	inTestDir(t)
	t.Setenv("INJECT", "x\nserver: {listen: evil}\nreplicas: 99")
	cfg, err := Parse([]byte("workloads:\n  - name: web\n    command: [echo, \"${INJECT}\"]\n"), "i.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Workloads[0].Command[1]; got != "x\nserver: {listen: evil}\nreplicas: 99" {
		t.Errorf("command[1] = %q", got)
	}
	if cfg.Server.Listen != "127.0.0.1:7420" || cfg.Workloads[0].ReplicaCount() != 1 {
		t.Error("an expanded value changed other keys")
	}
	_, err = Parse([]byte("\n\n\nworkloads:\n  - name: web\n    command: [\"${INJECT}\"]\n    port: \"${INJECT}\"\n"), "i.yaml", testPlugins)
	if err == nil || err.Error() != `i.yaml:7: workloads[0].port: must be an integer, got "${INJECT}"` {
		t.Errorf("got %v", err)
	}
}

func TestLiteralDollarBrace(t *testing.T) {
	inTestDir(t)
	cfg, err := Parse([]byte("alerts:\n  silences: [{matchers: {project: demo}, until: 2030-01-01T00:00:00Z, comment: \"costs $${AMOUNT} and $5\"}]\n"), "l.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Alerts.Silences[0].Comment; got != "costs ${AMOUNT} and $5" {
		t.Errorf("comment = %q", got)
	}
}

func TestExpansionProblemsNeverQuoteSecrets(t *testing.T) {
	inTestDir(t)
	_, err := Parse([]byte("server:\n  tokens: [{name: a, token: \"s3cr3t${p4-ss}\", scopes: [read]}]\nnotifications:\n  integrations: [{name: b, type: pagerduty, routingKey: \"k3y${s3cr3t-part}\"}]\n"), "s.yaml", testPlugins)
	if err == nil {
		t.Fatal("accepted invalid variable names")
	}
	for _, fragment := range []string{"s3cr3t", "p4-ss", "k3y"} {
		if strings.Contains(err.Error(), fragment) {
			t.Errorf("the error quotes part of a secret (%s):\n%v", fragment, err)
		}
	}
}
