//go:build e2e

// Package e2e is opshub's end-to-end suite on a real Kubernetes control
// plane (package internal/kubetest): the API server, etcd, the controller
// manager and kwok's simulated node. It runs only with the e2e build tag,
// through `make e2e`, which builds the control plane first.
package e2e
