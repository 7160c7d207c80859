package continuous

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// maxDockerConfig bounds what is read of a Docker config file.
const maxDockerConfig = 1 << 20

func readDockerConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxDockerConfig))
}

// dockerAuth is one registry's entry of a Docker config.json.
type dockerAuth struct {
	// Auth is base64 of "username:password".
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// dockerCredentials finds the entry for host in a Docker config.json (a
// kubernetes.io/dockerconfigjson Secret's .dockerconfigjson, or the older
// .dockercfg, which is the "auths" map alone). Entries are matched by host:
// "https://registry.example.com/v1/" is registry.example.com, and Docker
// Hub's several names are one. Messages never quote the file's content.
func dockerCredentials(data []byte, host string) (authn.AuthConfig, error) {
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return authn.AuthConfig{}, errors.New("is not a Docker config.json (JSON with \"auths\")")
	}
	if cfg.Auths == nil {
		var legacy map[string]dockerAuth
		if json.Unmarshal(data, &legacy) == nil {
			cfg.Auths = legacy
		}
	}
	want := registryHost(host)
	for key, a := range cfg.Auths {
		if registryHost(key) != want {
			continue
		}
		out := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" && out.Username == "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return authn.AuthConfig{}, fmt.Errorf("the entry for %s has an auth that is not base64", key)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return authn.AuthConfig{}, fmt.Errorf("the entry for %s has an auth that is not username:password", key)
			}
			out.Username, out.Password = user, pass
		}
		return out, nil
	}
	return authn.AuthConfig{}, fmt.Errorf("has no entry for %s", host)
}

// registryHost is the host of a Docker config key or a registry name.
func registryHost(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return s
}
