//go:build tools

// Package tools records the Helm CLI as a dependency of this module, so that
// `go build helm.sh/helm/v3/cmd/helm` builds the pinned release.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
