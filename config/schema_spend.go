package config

// Spend prices what runs and alerts on month-to-date spend.
type Spend struct {
	// Currency is an ISO 4217 code; default USD.
	Currency string `yaml:"currency"`
	Prices   Prices `yaml:"prices"`
	// Basis is what a container is charged for: requests, usage, or max of
	// the two (default, as OpenCost does).
	Basis string `yaml:"basis"`
	// TimeZone is the IANA zone whose calendar months are billing periods;
	// default UTC.
	TimeZone string `yaml:"timeZone"`
	// Overrides replace prices for one project or one node pool; unset
	// prices keep the default. A project's override wins over its pool's.
	Overrides []PriceOverride `yaml:"overrides,omitempty"`
	Alerts    []SpendAlert    `yaml:"alerts,omitempty"`
	// Retention is how long the ledger keeps each level of detail.
	Retention SpendRetention `yaml:"retention"`
}

// SpendRetention bounds the spend ledger, in calendar months of the billing
// time zone, the current month included.
type SpendRetention struct {
	// HourlyMonths keep hourly costs per service and resource and the
	// instances' monthly totals; default 2 (the current and the previous
	// month).
	HourlyMonths int `yaml:"hourlyMonths"`
	// Months are kept at all: those past HourlyMonths as daily costs per
	// service and resource; older months are dropped. Default 12.
	Months int `yaml:"months"`
}

// PriceOverride sets prices for one project or, on Kubernetes, for the
// containers on one node pool; exactly one of the two is given.
type PriceOverride struct {
	Project  string `yaml:"project,omitempty"`
	NodePool string `yaml:"nodePool,omitempty"`
	Prices   Prices `yaml:"prices"`
}

// Cost bases.
const (
	BasisRequests = "requests"
	BasisUsage    = "usage"
	BasisMax      = "max"
)

// Prices are unit prices; defaults are OpenCost's.
type Prices struct {
	CPUCoreHour     float64 `yaml:"cpuCoreHour"`
	MemoryGiBHour   float64 `yaml:"memoryGiBHour"`
	StorageGiBMonth float64 `yaml:"storageGiBMonth"`
}

// SpendAlert fires spend.threshold when month-to-date spend passes Amount,
// for one project or, when Project is empty, in total.
type SpendAlert struct {
	Amount  float64 `yaml:"amount"`
	Project string  `yaml:"project,omitempty"`
}
