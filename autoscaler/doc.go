// Package autoscaler decides how many instances a service should run, with
// the algorithm of the Kubernetes HorizontalPodAutoscaler (autoscaling/v2)
// and its defaults, so that users who know the HPA get exactly what they
// expect — and with every decision explained: the per-metric proposals, the
// value chosen and what limited it.
//
// The algorithm is pure functions of their inputs with `now` passed in; the
// only state is State (recent recommendations and scale events), which the
// caller keeps durable so that a restart keeps its stabilization windows.
// This package does not read metrics or scale anything itself.
package autoscaler
