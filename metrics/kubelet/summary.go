package kubelet

import (
	"encoding/json"
	"fmt"
	"io"
)

// summary is the part of the kubelet's /stats/summary that opshub reads:
// volumes and each container's writable layer (ephemeral storage).
type summary struct {
	Pods []struct {
		PodRef struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"podRef"`
		Containers []struct {
			Name   string   `json:"name"`
			Rootfs *fsStats `json:"rootfs"`
		} `json:"containers"`
		Volumes []struct {
			Name string `json:"name"`
			fsStats
		} `json:"volume"`
	} `json:"pods"`
}

type fsStats struct {
	UsedBytes     *uint64 `json:"usedBytes"`
	CapacityBytes *uint64 `json:"capacityBytes"`
	InodesUsed    *uint64 `json:"inodesUsed"`
}

func parseSummary(r io.Reader) (*summary, error) {
	var s summary
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("parse stats summary: %w", err)
	}
	return &s, nil
}
