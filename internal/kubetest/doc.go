// Package kubetest runs a real Kubernetes control plane on loopback for
// opshub's end-to-end tests: etcd, kube-apiserver (token authentication,
// service-account keys generated per run, RBAC), kube-controller-manager,
// optionally kube-scheduler, and kwok, which plays the kubelet of simulated
// nodes. The binaries come from `make k8s-tools` (.cache/bin).
//
// Everything runs in a temporary directory on free loopback ports and is
// stopped when the test ends. Pods on the simulated node become Running and
// Ready within a second; a pod annotated with DrivenAnnotation is left alone
// by kwok so that the test can write its status (a crash loop, an OOM kill,
// lost readiness). Pod IPs are fake: nothing may send traffic to them.
//
// It is test support only: the product never imports it.
package kubetest
