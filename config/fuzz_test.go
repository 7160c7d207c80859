package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it reports has
// a line and a message, and that whatever it accepts can be printed without
// the credentials it read from files and passes Validate.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, seed := range []string{
		"a: &a [*a]\n",
		"x-b: &b {name: web, command: [x]}\nworkloads: [{<<: [*b, {port: 1}], replicas: 2}, *b]\n",
		"x-a: &a [x,x,x,x,x,x,x,x,x]\nx-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nx-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nsinks: [{name: a, type: http, url: 'http://x', headers: *c}]\n",
		"sinks: [{name: f, type: file, path: \"${UNSET}\", auth: &x {basic: *x}}]\n",
		"server: {tokens: [{name: a, tokenFile: missing, token: x, scopes: [read]}]}\n",
		"? [a]\n: b\n",
	} {
		f.Add([]byte(seed))
	}
	env := environment{
		lookupEnv: func(name string) (string, bool) {
			if strings.HasPrefix(name, "UNSET") {
				return "", false
			}
			return "value-of-" + name, true
		},
		readFile: func(path string) ([]byte, error) {
			if strings.Contains(path, "missing") {
				return nil, os.ErrNotExist
			}
			return []byte("file-secret\n"), nil
		},
		cwd: "/fuzz",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse(data, "fuzz.yaml", env, testPlugins)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is %T %v, want a non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.Line < 0 || e.Msg == "" {
					t.Fatalf("bad error %#v", e)
				}
			}
			if cfg != nil {
				t.Fatal("a config returned along with errors")
			}
			return
		}
		if cfg == nil {
			t.Fatal("no config and no error")
		}
		printed, err := cfg.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		// Whatever the file says, a credential read from a *File key
		// never shows in what check-config prints.
		if strings.Contains(string(printed), "file-secret") {
			t.Fatalf("a credential read from a file is printed:\n%s", printed)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
	})
}
