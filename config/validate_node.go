package config

import (
	"net"
	"net/url"
)

// nodeAgent checks the keys of `opshub collector` on Kubernetes: its node
// API, how it reaches the kubelet, and who may read from it.
func (v *validator) nodeAgent(c *Config) {
	col := c.Collector
	if host, port, err := net.SplitHostPort(col.NodeListen()); err != nil || !validPort(port) || !validHost(host) {
		v.errorf("collector.listen", "must be host:port, such as :7421, got %q", truncate(col.Listen, 60))
	}
	if col.Advertise != "" {
		v.httpURL("collector.advertise", col.Advertise)
	}
	if col.Kubelet.URL != "" {
		v.httpURL("collector.kubelet.url", col.Kubelet.URL)
	}
	if col.Kubelet.InsecureSkipVerify && col.Kubelet.CAFile != "" {
		v.errorf("collector.kubelet.insecureSkipVerify", "give caFile or insecureSkipVerify, not both")
	}
	for i, id := range c.Platform.ControllerIdentities {
		if id == "" {
			v.errorf(elem("platform.controllerIdentities", i), "must not be empty")
		}
	}
	if c.Platform.Kind == PlatformKubernetes {
		return
	}
	for _, key := range []string{"collector.advertise", "collector.kubelet", "platform.controllerIdentities"} {
		if v.given(key) {
			v.errorf(key, "is only for platform kind kubernetes")
		}
	}
}

// httpURL checks that s is an absolute http or https URL with a host.
func (v *validator) httpURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(path, "must be an http:// or https:// URL with a host, got %q", truncate(s, 80))
	}
}
