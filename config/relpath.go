package config

import (
	"path/filepath"
	"strings"
)

// Relative paths in the config (dataDir, tokenFile and other *File keys,
// volume paths, workingDir, collector paths, file sink paths, TLS files, and
// a command's program when it contains a slash) are resolved against the
// working directory of the opshub process, not the directory of the config
// file: `command: [./bin/opshub-demo]` and `dataDir: ./.opshub` mean "where
// `opshub run` was started", as they would in a shell. A path that starts
// with a variable left for run time ("${OPSHUB_VOLUME_DATA}/x") is left alone.

// abs makes a path absolute against the process's working directory.
func (l *loader) abs(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "${") || strings.HasPrefix(p, "$${") || l.cwd == "" {
		return p
	}
	return filepath.Join(l.cwd, p)
}

// absCommand makes a command's program absolute when it is a relative path
// ("./bin/app", "bin/app"); a bare name ("python3") is looked up in $PATH at
// run time and stays as it is.
func (l *loader) absCommand(cmd []string) {
	if len(cmd) > 0 && strings.ContainsRune(cmd[0], '/') {
		cmd[0] = l.abs(cmd[0])
	}
}

// resolve makes the typed paths absolute, reads typed *File secrets and
// fills the defaults that depend on other values (see defaults.go).
func (l *loader) resolve(c *Config) {
	c.DataDir = l.abs(c.DataDir)
	c.Platform.Kubeconfig = l.abs(c.Platform.Kubeconfig)
	for i, p := range c.Collector.Paths {
		c.Collector.Paths[i] = l.abs(p)
	}
	c.Collector.Kubelet.CAFile = l.abs(c.Collector.Kubelet.CAFile)
	c.Collector.Kubelet.TokenFile = l.abs(c.Collector.Kubelet.TokenFile)
	for i := range c.Server.Tokens {
		t := &c.Server.Tokens[i]
		path := elem("server.tokens", i)
		t.Token, t.TokenFile = l.fileSecret(path, "token", t.Token, t.TokenFile)
	}
	for i := range c.Workloads {
		w := &c.Workloads[i]
		l.absCommand(w.Command)
		w.WorkingDir = l.abs(w.WorkingDir)
		for _, p := range []*Probe{w.Probes.Startup, w.Probes.Readiness, w.Probes.Liveness} {
			if p != nil && p.Exec != nil {
				l.absCommand(p.Exec.Command)
			}
		}
		for j := range w.Volumes {
			v := &w.Volumes[j]
			if v.Path == "" {
				v.Path = defaultVolumePath(c.DataDir, w.Project, w.Name, v.Name)
			}
			v.Path = l.abs(v.Path)
		}
	}
	l.groupFiles(c)
	for i := range c.Autoscaling.Policies {
		t := &c.Autoscaling.Policies[i].Target
		if t.Project == "" {
			t.Project = defaultTargetProject(c, t.Service)
		}
	}
	for i := range c.Release.Flows {
		f := &c.Release.Flows[i]
		for j := range f.Triggers {
			if wh := f.Triggers[j].Webhook; wh != nil {
				path := child(elem(elem("release.flows", i)+".triggers", j), "webhook")
				wh.Secret, wh.SecretFile = l.fileSecret(path, "secret", wh.Secret, wh.SecretFile)
			}
			if g := f.Triggers[j].Git; g != nil && (strings.HasPrefix(g.Repo, "./") || strings.HasPrefix(g.Repo, "../")) {
				g.Repo = l.abs(g.Repo)
			}
		}
		for j := range f.Steps {
			if r := f.Steps[j].Run; r != nil {
				l.absCommand(r.Command)
				r.WorkingDir = l.abs(r.WorkingDir)
			}
			st := &f.Steps[j]
			if d := st.Deploy; d != nil && d.Project == "" {
				d.Project = defaultTargetProject(c, d.Service)
			}
			if js := st.Job; js != nil && js.Project == "" {
				js.Project = defaultTargetProject(c, js.Name)
			}
			if b := st.Backup; b != nil && b.Project == "" {
				b.Project = defaultTargetProject(c, b.Service)
			}
			if pr := st.Promote; pr != nil {
				for _, ref := range []*ServiceRef{&pr.From, &pr.To} {
					if ref.Project == "" {
						ref.Project = defaultTargetProject(c, ref.Service)
					}
				}
			}
		}
	}
}

// fileSecret reads the secret named by the key "<key>File" of the mapping at
// path, unless the secret is also given inline (an error). It returns the
// secret and the absolute file path.
func (l *loader) fileSecret(path, key string, inline Secret, file string) (Secret, string) {
	if file == "" {
		return inline, file
	}
	filePath := child(path, key+"File")
	if inline != "" || l.lines.has(child(path, key)) {
		l.rep.errorf(filePath, "give %s or %sFile, not both", key, key)
		return inline, file
	}
	abs := l.abs(file)
	s, err := readSecretFile(l.readFile, abs)
	if err != nil {
		l.rep.errorf(filePath, "file %q %s", file, err)
		return inline, abs
	}
	return s, abs
}
