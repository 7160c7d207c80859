package app

import (
	"context"
	"time"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/metrics/kubelet"
	"github.com/opshub/opshub/platform/kubernetes"
)

// nodeSource reads the kubelet and names what it read in opshub's words
// from the node's pod cache: each container's project and service come from
// its pod (the kubelet knows only namespaces and pod names), and volumes are
// the pods' PersistentVolumeClaims, reported once per claim for the service
// (other volumes, such as emptyDirs and projected tokens, are left out).
type nodeSource struct {
	src  *kubelet.Source
	pods *kubernetes.NodePods
}

var _ metrics.Source = nodeSource{}

func (s nodeSource) Read(ctx context.Context, now time.Time) ([]metrics.Reading, error) {
	readings, err := s.src.Read(ctx, now)
	out := readings[:0]
	type claimKey struct{ project, service, claim string }
	seen := map[claimKey]bool{}
	for _, r := range readings {
		// The kubelet's refs carry the namespace as project.
		m, known := s.pods.ByName(r.Ref.Project, r.Ref.Instance)
		if known {
			r.Ref.Project, r.Ref.Service = m.Project, m.Service
		}
		if len(r.Volumes) == 0 {
			out = append(out, r)
			continue
		}
		if !known {
			continue // which of its volumes are claims is not known
		}
		var vols []metrics.VolumeReading
		for _, v := range r.Volumes {
			claim, ok := m.Claims[v.Name]
			k := claimKey{m.Project, m.Service, claim}
			if !ok || seen[k] {
				continue
			}
			seen[k] = true
			v.Name = claim
			vols = append(vols, v)
		}
		if len(vols) > 0 {
			r.Ref.Instance, r.Ref.Container = "", ""
			r.Volumes = vols
			out = append(out, r)
		}
	}
	return out, err
}
