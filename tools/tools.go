//go:build tools

// Package tools pins the versions of the developer tools that `make tools`
// installs, in a module of its own so the product's go.mod stays clean.
package tools

import (
	_ "honnef.co/go/tools/cmd/staticcheck"
)
