package config

// Continuous is one container whose image follows a registry tag
// (`release.continuous`): when the tag (or the highest tag in a semver
// range) points at a new digest, opshub deploys image@digest to the
// container as a release triggered by continuous. Kubernetes only: on one
// machine a workload runs a command, not an image.
type Continuous struct {
	// Project is the namespace; default "default".
	Project string `yaml:"project"`
	Service string `yaml:"service"`
	// Container is the container whose image changes; default the pod's
	// default container.
	Container  string `yaml:"container,omitempty"`
	ImageWatch `yaml:",inline"`
}

// ImageWatch is a registry repository and the tag (or semver range of tags)
// whose digest opshub follows, for release.continuous and image triggers of
// flows.
type ImageWatch struct {
	// Image is the repository without tag or digest:
	// registry.example.com/acme/web.
	Image string `yaml:"image"`
	// Tag is the tag followed: main, latest, 1.4. Exactly one of Tag and
	// Semver is given.
	Tag string `yaml:"tag,omitempty"`
	// Semver follows the highest tag that is a semantic version in this
	// range: ~1.4, ^2, >=1.2 <2.
	Semver string `yaml:"semver,omitempty"`
	// PollInterval is how often the registry is asked; default 1m.
	PollInterval Duration `yaml:"pollInterval"`
	// Auth are the registry credentials; none means anonymous (a
	// registry's token service still hands out anonymous tokens).
	Auth RegistryAuth `yaml:"auth,omitempty"`
}

// RegistryAuth are the credentials of a registry: basic (username and
// password, also what a Docker Hub style token service takes), a bearer
// token, a Kubernetes image pull Secret, or a Docker config file. At most
// one kind is given.
type RegistryAuth struct {
	Username string `yaml:"username,omitempty"`
	Password Secret `yaml:"password,omitempty" config:"secret"`
	// Token is sent as "Authorization: Bearer" as it is.
	Token Secret `yaml:"token,omitempty" config:"secret"`
	// PullSecret names a kubernetes.io/dockerconfigjson Secret in the
	// project's namespace, read at each poll (Kubernetes only).
	PullSecret string `yaml:"pullSecret,omitempty"`
	// DockerConfigFile is a Docker config.json ({"auths": {host: {"auth" |
	// "username"/"password" | "identitytoken" | "registrytoken"}}}), such
	// as a pull Secret's .dockerconfigjson mounted as a file; it is read at
	// each poll, so a rotated file is used from the next one.
	DockerConfigFile string `yaml:"dockerConfigFile,omitempty" config:"path"`
}

// Kinds names the kinds of credentials given.
func (a RegistryAuth) Kinds() []string {
	var out []string
	if a.Username != "" || a.Password != "" {
		out = append(out, "username/password")
	}
	if a.Token != "" {
		out = append(out, "token")
	}
	if a.PullSecret != "" {
		out = append(out, "pullSecret")
	}
	if a.DockerConfigFile != "" {
		out = append(out, "dockerConfigFile")
	}
	return out
}

// ImageTrigger starts a flow when the watched tag points at a new digest;
// the run gets ARG_IMAGE (image@digest), ARG_DIGEST and ARG_TAG.
type ImageTrigger struct {
	ImageWatch `yaml:",inline"`
}
