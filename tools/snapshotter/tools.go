//go:build tools

// Package tools pins the CSI snapshot-controller for the end-to-end suite.
package tools

import _ "github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller"
