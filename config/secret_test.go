package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/opshub/opshub/alerting/notify/slack"
	"github.com/opshub/opshub/sinks/loki"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	if s.Value() != "hunter2" {
		t.Fatalf("Value() = %q", s.Value())
	}
	var log strings.Builder
	slog.New(slog.NewTextHandler(&log, nil)).Info("x", "token", s)
	j, _ := json.Marshal(struct{ S Secret }{s})
	var decoded struct{ S string }
	if err := json.Unmarshal(j, &decoded); err != nil {
		t.Fatal(err)
	}
	y, _ := s.MarshalYAML()
	txt, _ := s.MarshalText()
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s),
		"%#v": fmt.Sprintf("%#v", s), "%x": fmt.Sprintf("%x", s), "%d": fmt.Sprintf("%d", s),
		"%+v struct": fmt.Sprintf("%+v", struct{ S Secret }{s}), "%#v struct": fmt.Sprintf("%#v", struct{ S Secret }{s}),
		"String": s.String(), "JSON": decoded.S, "YAML": fmt.Sprint(y), "text": string(txt), "slog": log.String(),
	}
	for what, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s printed the secret: %s", what, out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s does not say <secret>: %s", what, out)
		}
	}
	if Secret("").String() != "" {
		t.Error("an empty secret does not print as empty")
	}
}

// TestSecretsNeverAppear loads configs holding every kind of secret and
// checks every way the config can be printed.
func TestSecretsNeverAppear(t *testing.T) {
	files := testFiles(t, "valid")
	for _, name := range []string{"spec", "all-destinations", "kubernetes"} {
		t.Run(name, func(t *testing.T) {
			inTestDir(t)
			cfg, err := Load(files[name], testPlugins)
			if err != nil {
				t.Fatal(err)
			}
			red, err := cfg.Redacted()
			if err != nil {
				t.Fatal(err)
			}
			j, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for what, out := range map[string]string{
				"Redacted": string(red), "%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg),
				"%#v": fmt.Sprintf("%#v", cfg), "%v of *Config": fmt.Sprintf("%v", *cfg), "JSON": string(j),
			} {
				assertNoSecrets(t, what, out)
			}
		})
	}
}

// The secrets were actually loaded, from files and from the environment.
func TestSecretsAreLoaded(t *testing.T) {
	path := testFiles(t, "valid")["spec"]
	inTestDir(t)
	cfg, err := Load(path, testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.Tokens[0].Token.Value(); got != testSecrets["ci.token"] {
		t.Errorf("tokenFile secret = %q, want the file's content without its newline", got)
	}
	if got := cfg.Release.Flows[0].Triggers[0].Webhook.Secret.Value(); got != testSecrets["hook.secret"] {
		t.Errorf("webhook secretFile = %q", got)
	}
	if l, ok := cfg.Sinks[0].Settings.(*loki.Config); !ok || l.Auth.Basic == nil || l.Auth.Basic.Password != testSecrets["loki.pass"] {
		t.Errorf("loki sink settings = %#v, want the password read from loki.pass", cfg.Sinks[0].Settings)
	}
	if s, ok := cfg.Notifications.Integrations[0].Settings.(*slack.Config); !ok || s.Token != testSecrets["SLACK_TOKEN"] || s.Channel != "#ops" {
		t.Errorf("slack settings = %#v, want the token from $SLACK_TOKEN", cfg.Notifications.Integrations[0].Settings)
	}
}

func TestSecretFileTrimsOnlyTrailingNewlines(t *testing.T) {
	dir := inTestDir(t)
	if err := os.WriteFile(dir+"/t", []byte("  spaced token \r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte("server:\n  tokens: [{name: a, tokenFile: t, scopes: [read]}]\n"), "t.yaml", testPlugins)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.Tokens[0].Token.Value(); got != "  spaced token " {
		t.Errorf("token = %q", got)
	}
}
