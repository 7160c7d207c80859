package kubernetes

import (
	"fmt"
	"os"
	"strings"
)

// BearerToken returns how to get the token this process shows the API
// server, for the controller to show the collectors too: the kubeconfig's
// (or in-cluster) bearer token, read again from its file on every call so
// that a rotated ServiceAccount token is picked up. It returns nil when the
// credentials are no bearer token (client certificates).
func BearerToken(kubeconfig string) (func() (string, error), error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.BearerTokenFile != "":
		file := cfg.BearerTokenFile
		return func() (string, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("bearer token file: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}, nil
	case cfg.BearerToken != "":
		token := cfg.BearerToken
		return func() (string, error) { return token, nil }, nil
	}
	return nil, nil
}
