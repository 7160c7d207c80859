package spend

import "fmt"

// Resource is what a cost is for.
type Resource string

// The resources spend breaks costs down by.
const (
	CPU     Resource = "cpu"
	Memory  Resource = "memory"
	Storage Resource = "volume"
)

// HoursPerMonth converts a per-GiB-month storage price to an hourly one, as
// cloud price lists and OpenCost do.
const HoursPerMonth = 730

const gib = 1 << 30

// Prices are unit prices in the configured currency.
type Prices struct {
	CPUCoreHour     float64 `json:"cpuCoreHour"`
	MemoryGiBHour   float64 `json:"memoryGiBHour"`
	StorageGiBMonth float64 `json:"storageGiBMonth"`
}

// DefaultPrices are OpenCost's defaults.
func DefaultPrices() Prices {
	return Prices{CPUCoreHour: 0.031611, MemoryGiBHour: 0.004237, StorageGiBMonth: 0.04}
}

// Basis says which quantity of a container is charged.
type Basis string

// The cost bases. Max, OpenCost's choice, charges what a container holds
// back from others (its request) or what it takes beyond that.
const (
	BasisRequests Basis = "requests"
	BasisUsage    Basis = "usage"
	BasisMax      Basis = "max"
)

// Model prices containers and volumes.
type Model struct {
	Prices Prices
	Basis  Basis
	// Projects override prices per project; zero fields keep the default.
	Projects map[string]Prices
	// NodePools override prices per node pool (what the machines of that
	// pool cost); zero fields keep the default. A project's override wins
	// over its node pool's.
	NodePools map[string]Prices
}

// PricesFor returns the prices that apply to a project's containers on a
// node pool ("" when the node has none, and for volumes): the defaults,
// then the pool's prices, then the project's.
func (m Model) PricesFor(project, nodePool string) Prices {
	p := m.Prices
	if o, ok := m.NodePools[nodePool]; ok && nodePool != "" {
		p = p.overriddenBy(o)
	}
	if o, ok := m.Projects[project]; ok {
		p = p.overriddenBy(o)
	}
	return p
}

// overriddenBy returns p with the prices o sets.
func (p Prices) overriddenBy(o Prices) Prices {
	if o.CPUCoreHour > 0 {
		p.CPUCoreHour = o.CPUCoreHour
	}
	if o.MemoryGiBHour > 0 {
		p.MemoryGiBHour = o.MemoryGiBHour
	}
	if o.StorageGiBMonth > 0 {
		p.StorageGiBMonth = o.StorageGiBMonth
	}
	return p
}

// Validate checks the model.
func (m Model) Validate() error {
	switch m.Basis {
	case BasisRequests, BasisUsage, BasisMax:
	default:
		return fmt.Errorf("spend: cost basis must be requests, usage or max, got %q", m.Basis)
	}
	negative := func(p Prices) bool { return p.CPUCoreHour < 0 || p.MemoryGiBHour < 0 || p.StorageGiBMonth < 0 }
	if negative(m.Prices) {
		return fmt.Errorf("spend: prices must not be negative")
	}
	for project, p := range m.Projects {
		if negative(p) {
			return fmt.Errorf("spend: prices of project %q must not be negative", project)
		}
	}
	for pool, p := range m.NodePools {
		if negative(p) {
			return fmt.Errorf("spend: prices of node pool %q must not be negative", pool)
		}
	}
	return nil
}

// quantity picks the charged quantity by basis.
func (m Model) quantity(request, usage float64) float64 {
	switch m.Basis {
	case BasisRequests:
		return request
	case BasisUsage:
		return usage
	default:
		return max(request, usage)
	}
}
