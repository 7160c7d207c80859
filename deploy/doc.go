// Package deploy holds opshub's install manifests for Kubernetes: the
// kustomize base in kubernetes/ and the Helm chart in helm/opshub, which
// renders the same objects. It has no code; its tests check the manifests
// without a cluster (the config they ship is valid, the chart lints and its
// values schema rejects mistakes). test/e2e applies them to a real API
// server.
package deploy
