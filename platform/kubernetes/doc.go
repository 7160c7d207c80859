// Package kubernetes is opshub's platform.Platform on a Kubernetes cluster.
// It watches the API server through client-go informers over Pods,
// Deployments, StatefulSets, ReplicaSets, Jobs, PersistentVolumeClaims, the
// Warning events of pods, Nodes and HorizontalPodAutoscalers, and presents
// what it sees in opshub's words: a service is a Deployment or a
// StatefulSet, a job is a Job or a CronJob (its project is its namespace, or
// the value of its opshub.dev/project label), its instances are the pods it
// controls (pod → ReplicaSet → Deployment, pod → StatefulSet, pod → Job
// [→ CronJob]), and each container's state is one of the user-facing status
// words. Pod updates and the kubelet's Unhealthy and Evicted events become
// model.InstanceEvents (started, exited, restarted, oom-killed, backoff,
// ready, not-ready, stopped, probe-failing, evicted) for the detectors in
// alerting.
//
// How it is built: informers fill local caches, a typed work queue carries
// the keys of changed pods to workers, and a worker compares a pod's status
// with what it observed last time, so that events survive the queue
// coalescing several updates into one; the keys of changed pod events share
// the queue. Replica changes go through the scale subresource
// (deployments/scale, statefulsets/scale), never through an edit of the
// workload object, so that scaling never races a user's edit of the pod
// template; only Rollout and Undo write the pod template, read fresh from
// the API server and retried on a conflict.
//
// What it must not do: it never mutates an object taken from a cache, it
// makes no API request per pod (reads come from the caches), and client-go
// types never leave this package except in Options, which only the wiring
// in internal/app and the end-to-end harness fill.
package kubernetes
