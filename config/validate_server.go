package config

import (
	"net"
	"strconv"
)

func (v *validator) server(s Server) {
	if host, port, err := net.SplitHostPort(s.Listen); err != nil || !validPort(port) || !validHost(host) {
		v.errorf("server.listen", "must be host:port, such as 127.0.0.1:7420 or :7420, got %q", truncate(s.Listen, 60))
	}
	if s.ExternalURL != "" {
		v.httpURL("server.externalURL", s.ExternalURL)
	}
	if s.Exec.IdleTimeout <= 0 {
		v.errorf("server.exec.idleTimeout", "must be positive")
	}
	if s.Exec.MaxPerInstance < 1 {
		v.errorf("server.exec.maxPerInstance", "must be at least 1")
	}
	if s.Limits.MaxTails < 1 {
		v.errorf("server.limits.maxTails", "must be at least 1")
	}
	if s.Limits.MaxTailsPerClient < 1 {
		v.errorf("server.limits.maxTailsPerClient", "must be at least 1")
	}
	if s.Limits.MaxQueryRange <= 0 {
		v.errorf("server.limits.maxQueryRange", "must be positive")
	}
	names := map[string]string{}
	tokens := map[string]string{}
	for i, t := range s.Tokens {
		p := elem("server.tokens", i)
		if t.Name == "" {
			v.errorf(child(p, "name"), "is required")
		}
		v.unique(names, t.Name, child(p, "name"), "token name")
		switch {
		case t.Token == "" && v.given(child(p, "token")):
			v.errorf(child(p, "token"), "is empty")
		case t.Token == "" && t.TokenFile == "":
			v.errorf(p, "needs token or tokenFile")
		}
		if t.Token != "" {
			where := child(p, "token")
			if t.TokenFile != "" {
				where = child(p, "tokenFile")
			}
			if first, dup := tokens[t.Token.Value()]; dup {
				v.errorf(where, "is the same token as %s; each token must be different", v.at(first))
			} else {
				tokens[t.Token.Value()] = where
			}
		}
		if len(t.Scopes) == 0 {
			v.errorf(child(p, "scopes"), "needs at least one of read, deploy, exec, admin")
		}
		seen := map[string]string{}
		for j, sc := range t.Scopes {
			sp := elem(child(p, "scopes"), j)
			if v.oneOf(sp, sc, ScopeRead, ScopeDeploy, ScopeExec, ScopeAdmin) {
				v.unique(seen, sc, sp, "scope")
			}
		}
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

func validHost(h string) bool {
	if h == "" || net.ParseIP(h) != nil {
		return true
	}
	return len(h) <= 253 && hostname.MatchString(h)
}

func (v *validator) platform(c *Config) {
	p := c.Platform
	if !v.oneOf("platform.kind", p.Kind, PlatformLocal, PlatformKubernetes) {
		return
	}
	if p.Kind == PlatformKubernetes {
		if len(c.Workloads) > 0 {
			v.errorf("workloads", "workloads are only for platform kind local")
		}
		if p.Namespace != "" {
			v.name("platform.namespace", p.Namespace)
		}
		le := p.Election()
		if le.RetryPeriod <= 0 {
			v.errorf("platform.leaderElection.retryPeriod", "must be positive")
		}
		if le.RenewDeadline <= le.RetryPeriod {
			v.errorf("platform.leaderElection.renewDeadline", "must be longer than retryPeriod (%s)", le.RetryPeriod.D())
		}
		if le.LeaseDuration <= le.RenewDeadline {
			v.errorf("platform.leaderElection.leaseDuration", "must be longer than renewDeadline (%s)", le.RenewDeadline.D())
		}
		if p.KubeAPIQPS < 0 || (p.KubeAPIQPS == 0 && v.given("platform.kubeAPIQPS")) {
			v.errorf("platform.kubeAPIQPS", "must be positive, got %g", p.KubeAPIQPS)
		}
		if p.KubeAPIBurst < 0 || (p.KubeAPIBurst == 0 && v.given("platform.kubeAPIBurst")) {
			v.errorf("platform.kubeAPIBurst", "must be at least 1, got %d", p.KubeAPIBurst)
		}
		return
	}
	if p.Kubeconfig != "" {
		v.errorf("platform.kubeconfig", "is only for platform kind kubernetes")
	}
	if p.NodeName != "" {
		v.errorf("platform.nodeName", "is only for platform kind kubernetes")
	}
	for _, key := range []string{"platform.namespace", "platform.leaderElection", "platform.kubeAPIQPS", "platform.kubeAPIBurst"} {
		if v.given(key) {
			v.errorf(key, "is only for platform kind kubernetes")
		}
	}
}
