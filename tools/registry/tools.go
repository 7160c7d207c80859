//go:build tools

// Package tools pins the CNCF distribution registry that the image tests push
// opshub's OCI image to and pull it back from (internal/packaging).
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
