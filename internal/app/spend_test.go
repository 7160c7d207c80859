package app

import (
	"context"
	"testing"
	"time"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// clusterStub stands in for the Kubernetes platform's read side: instances
// with their own requests and node pool, and claims with capacity.
type clusterStub struct {
	platform.Platform
	svcs    []model.Service
	volumes map[model.Ref][]model.Volume
}

func (c clusterStub) Services(context.Context) ([]model.Service, error) { return c.svcs, nil }
func (c clusterStub) AllVolumes(context.Context) (map[model.Ref][]model.Volume, error) {
	return c.volumes, nil
}

type noUsage struct{}

func (noUsage) Usage(model.Ref, autoscaler.Resource) (autoscaler.Sample, bool) {
	return autoscaler.Sample{}, false
}

// On a cluster nothing is declared in the config: spend charges what the
// pods request, on the pool their node is in, and the claims' capacity.
func TestSpendObservesRequestsPoolsAndClaimsOfACluster(t *testing.T) {
	p := clusterStub{
		svcs: []model.Service{{Project: "ml", Name: "train", Instances: []model.Instance{
			{Name: "train-0", Container: "train", Status: model.StatusRunning, NodePool: "gpu", Requests: &model.Requests{CPU: 2, Memory: 1 << 30}},
			{Name: "train-1", Container: "train", Status: model.StatusStaging},
		}}},
		volumes: map[model.Ref][]model.Volume{{Project: "ml", Service: "train"}: {
			{Name: "data-train-0", Capacity: 10 << 30},
			{Name: "unbound", Capacity: 0},
		}},
	}
	containers, volumes, err := spendObserver{platform: p, usage: noUsage{}}.Observe(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(containers) != 2 {
		t.Fatalf("containers = %+v", containers)
	}
	c := containers[0]
	if !c.Running || c.NodePool != "gpu" || c.CPURequest != 2 || c.MemoryRequest != 1<<30 {
		t.Errorf("train-0 = %+v, want running on gpu with 2 cores and 1Gi requested", c)
	}
	if containers[1].Running {
		t.Errorf("a staging pod is charged: %+v", containers[1])
	}
	if len(volumes) != 1 || volumes[0].Ref.Instance != "data-train-0" || volumes[0].CapacityBytes != 10<<30 {
		t.Errorf("volumes = %+v, want the bound 10Gi claim only", volumes)
	}
}
