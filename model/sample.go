package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// MetricType names one kind of container measurement. The types of the
// user-facing contract come first; the others are opshub's additions, named
// the same way.
type MetricType string

// Metric types of the user-facing contract.
const (
	MetricCPU            MetricType = "cpu"             // cores
	MetricMemory         MetricType = "memory"          // bytes, working set
	MetricNetworkRx      MetricType = "network-rx"      // bytes/s
	MetricNetworkTx      MetricType = "network-tx"      // bytes/s
	MetricDiskRead       MetricType = "disk-read"       // bytes/s
	MetricDiskWrite      MetricType = "disk-write"      // bytes/s
	MetricVolumeUsed     MetricType = "volume-used"     // bytes
	MetricVolumeCapacity MetricType = "volume-capacity" // bytes
	MetricRestarts       MetricType = "restarts"        // count since the instance was created
	MetricLogLines       MetricType = "log-lines"       // lines/s
)

// Metric types opshub adds to the contract's.
const (
	MetricCPURequestPercent    MetricType = "cpu-request-percent"    // percent of the CPU request
	MetricCPULimitPercent      MetricType = "cpu-limit-percent"      // percent of the CPU limit
	MetricMemoryRSS            MetricType = "memory-rss"             // bytes, resident set
	MetricMemoryLimitPercent   MetricType = "memory-limit-percent"   // percent of the memory limit, working set
	MetricFilesystemUsed       MetricType = "filesystem-used"        // bytes the container wrote outside volumes
	MetricVolumeInodes         MetricType = "volume-inodes"          // files and directories on the volume
	MetricVolumeUsedPercent    MetricType = "volume-used-percent"    // percent of the capacity
	MetricMemoryLimit          MetricType = "memory-limit"           // bytes
	MetricCPULimit             MetricType = "cpu-limit"              // cores
	MetricMemoryRequestPercent MetricType = "memory-request-percent" // percent of the memory request
	MetricCPURequest           MetricType = "cpu-request"            // cores
	MetricMemoryRequest        MetricType = "memory-request"         // bytes
)

// MetricTypes lists every metric type: the contract's first, in its order.
var MetricTypes = []MetricType{
	MetricCPU, MetricMemory, MetricNetworkRx, MetricNetworkTx, MetricDiskRead, MetricDiskWrite,
	MetricVolumeUsed, MetricVolumeCapacity, MetricRestarts, MetricLogLines,
	MetricCPURequestPercent, MetricCPULimitPercent, MetricCPULimit,
	MetricMemoryRSS, MetricMemoryLimitPercent, MetricMemoryRequestPercent, MetricMemoryLimit,
	MetricFilesystemUsed, MetricVolumeInodes, MetricVolumeUsedPercent,
	MetricCPURequest, MetricMemoryRequest,
}

// Unit is the unit values of the type are in, as the API names it.
func (t MetricType) Unit() string {
	switch t {
	case MetricCPU, MetricCPULimit, MetricCPURequest:
		return "cores"
	case MetricMemory, MetricMemoryRSS, MetricMemoryLimit, MetricMemoryRequest, MetricVolumeUsed, MetricVolumeCapacity, MetricFilesystemUsed:
		return "bytes"
	case MetricNetworkRx, MetricNetworkTx, MetricDiskRead, MetricDiskWrite:
		return "bytes/s"
	case MetricLogLines:
		return "lines/s"
	case MetricCPURequestPercent, MetricCPULimitPercent, MetricMemoryLimitPercent, MetricMemoryRequestPercent, MetricVolumeUsedPercent:
		return "percent"
	case MetricRestarts, MetricVolumeInodes:
		return "count"
	}
	return ""
}

// Known reports whether t is one of MetricTypes.
func (t MetricType) Known() bool { return t.Unit() != "" }

// Sample is one measurement of one container (or, for volume types, of one
// volume of a service) at one time. Rates (cpu, network, disk, log lines)
// are already rates over the interval ending at Time: sources report raw
// counters, and the metrics package turns them into rates.
type Sample struct {
	Ref
	Type MetricType `json:"type"`
	// Volume names the volume for volume types; empty otherwise.
	Volume string    `json:"volume,omitempty"`
	Time   time.Time `json:"time"`
	Value  float64   `json:"value"`
}

// MetricPoint is one point of a series. Its JSON form is [unixSeconds, value].
type MetricPoint struct {
	Time  time.Time
	Value float64
}

// MarshalJSON writes the point as [unixSeconds, value].
func (p MetricPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]float64{float64(p.Time.Unix()), p.Value})
}

// UnmarshalJSON reads [unixSeconds, value].
func (p *MetricPoint) UnmarshalJSON(b []byte) error {
	var pair [2]float64
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("metric point: %w", err)
	}
	p.Time = time.Unix(int64(pair[0]), 0).UTC()
	p.Value = pair[1]
	return nil
}

// MetricSeries is one series as the API returns it. A series aggregated over
// a service's instances has an empty Instance and Container.
type MetricSeries struct {
	Type      MetricType    `json:"type"`
	Unit      string        `json:"unit"`
	Project   string        `json:"project"`
	Service   string        `json:"service"`
	Instance  string        `json:"instance"`
	Container string        `json:"container"`
	Volume    string        `json:"volume,omitempty"`
	Points    []MetricPoint `json:"points"`
}
