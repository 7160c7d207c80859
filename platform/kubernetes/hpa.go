package kubernetes

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HPAFor reports whether a HorizontalPodAutoscaler (autoscaling/v2) in the
// service's namespace targets its Deployment or StatefulSet, and its name
// (the first by name when there are several). opshub's autoscaler refuses
// such a service: two autoscalers would fight over its replicas.
func (p *Platform) HPAFor(ctx context.Context, project, service string) (string, bool, error) {
	w, err := p.find(ctx, project, service)
	if err != nil {
		return "", false, err
	}
	hpas, err := p.hpas.HorizontalPodAutoscalers(w.namespace).List(labelsEverything)
	if err != nil {
		return "", false, fmt.Errorf("kubernetes: list horizontalpodautoscalers: %w", err)
	}
	var names []string
	for _, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil || (gv.Group != "apps" && ref.APIVersion != "") {
			continue
		}
		if ref.Kind == w.kind && ref.Name == w.name {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return "", false, nil
	}
	slices.Sort(names)
	return names[0], true, nil
}
