package config

// Spend prices what runs and alerts on month-to-date spend.
type Spend struct {
	// Currency is an ISO 4217 code; default USD.
	Currency string       `yaml:"currency"`
	Prices   Prices       `yaml:"prices"`
	Alerts   []SpendAlert `yaml:"alerts,omitempty"`
}

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
