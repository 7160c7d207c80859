package config

import (
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

func (v *validator) continuous(cs []Continuous) {
	seen := map[string]string{}
	for i, c := range cs {
		p := elem("release.continuous", i)
		if v.cfg.Platform.Kind == PlatformLocal {
			v.errorf(p, "is for platform kind kubernetes: on one machine a workload runs a command, not an image (an image trigger of a flow can act on a new image: release.flows[].triggers[].image)")
		}
		nameOK := true
		if c.Service == "" {
			v.errorf(child(p, "service"), "is required: the Deployment or StatefulSet whose container follows the image")
			nameOK = false
		} else {
			nameOK = v.name(child(p, "service"), c.Service) && nameOK
		}
		nameOK = v.name(child(p, "project"), c.Project) && nameOK
		if c.Container != "" || v.given(child(p, "container")) {
			nameOK = v.name(child(p, "container"), c.Container) && nameOK
		}
		if nameOK {
			what := c.Project + "/" + c.Service
			if c.Container != "" {
				what += " container " + c.Container
			}
			v.unique(seen, what, p, "continuous deployment of")
		}
		v.imageWatch(p, c.ImageWatch)
		if c.Auth.PullSecret != "" {
			v.secretName(child(child(p, "auth"), "pullSecret"), c.Auth.PullSecret)
		}
	}
}

// imageWatch checks a repository, its tag or semver range, the poll
// interval and the credentials of release.continuous or an image trigger.
func (v *validator) imageWatch(p string, w ImageWatch) {
	v.imageRepository(child(p, "image"), w.Image)
	switch {
	case w.Tag == "" && w.Semver == "":
		v.errorf(p, "needs tag or semver: the tag to follow (main), or a range whose highest tag is followed (~1.4)")
	case w.Tag != "" && w.Semver != "":
		v.errorf(child(p, "semver"), "give tag or semver, not both")
	case w.Tag != "" && !imageTag.MatchString(w.Tag):
		if _, err := semver.NewConstraint(w.Tag); err == nil {
			v.errorf(child(p, "tag"), "%q is not a tag; to follow the highest tag in a range write semver: %q", truncate(w.Tag, 40), w.Tag)
		} else {
			v.errorf(child(p, "tag"), "must be a tag (letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'), got %q", truncate(w.Tag, 40))
		}
	case w.Semver != "":
		if _, err := semver.NewConstraint(w.Semver); err != nil {
			v.errorf(child(p, "semver"), "is not a semver range such as ~1.4, ^2 or >=1.2 <2: %v", err)
		}
	}
	if w.PollInterval < Duration(time.Second) {
		v.errorf(child(p, "pollInterval"), "must be 1s or more")
	}
	v.registryAuth(child(p, "auth"), w.Auth)
}

// Image references, after the distribution project's grammar: an optional
// registry host (with a dot or a port, or localhost) and lowercase path
// components.
var (
	imageTag       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	imageHost      = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?$|^\[[0-9A-Fa-f:]+\](?::[0-9]+)?$`)
)

func (v *validator) imageRepository(path, image string) {
	if image == "" {
		v.errorf(path, "is required: the repository, such as registry.example.com/acme/web")
		return
	}
	parts := strings.Split(image, "/")
	last := parts[len(parts)-1]
	if strings.Contains(last, "@") || strings.Contains(last, ":") {
		v.errorf(path, "must be a repository without tag or digest, got %q: the tag goes in tag (or semver)", truncate(image, 80))
		return
	}
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:[") || parts[0] == "localhost") {
		if !imageHost.MatchString(parts[0]) {
			v.errorf(path, "registry %q is not a host name with an optional port", truncate(parts[0], 40))
			return
		}
		parts = parts[1:]
	}
	for _, c := range parts {
		if !imageComponent.MatchString(c) {
			v.errorf(path, "path component %q must be lowercase letters and digits separated by '.', '_', '__' or '-'", truncate(c, 40))
			return
		}
	}
}

func (v *validator) registryAuth(path string, a RegistryAuth) {
	if kinds := a.Kinds(); len(kinds) > 1 {
		v.errorf(path, "has %s; give one kind of credentials", strings.Join(kinds, " and "))
		return
	}
	switch {
	case a.Username != "" && a.Password == "":
		v.errorf(child(path, "password"), "is required with username (or passwordFile)")
	case a.Password != "" && a.Username == "":
		v.errorf(child(path, "username"), "is required with password")
	}
}

// secretName checks the name of a Kubernetes Secret: a DNS subdomain.
func (v *validator) secretName(path, name string) {
	if len(name) > 253 {
		v.errorf(path, "must be at most 253 characters, got %d", len(name))
		return
	}
	for _, label := range strings.Split(name, ".") {
		if !dnsLabel.MatchString(label) {
			v.errorf(path, "must be a Secret's name (lowercase letters, digits, '-' and '.'), got %q", truncate(name, 40))
			return
		}
	}
}
