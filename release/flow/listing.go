package flow

import "github.com/opshub/opshub/model"

// Listing is one configured flow as GET /api/v1/flows lists it: its
// triggers, what each git trigger saw when it last read its branch and each
// image trigger when it last read its registry, its steps and its latest
// run.
type Listing struct {
	Name        string                  `json:"name"`
	Concurrency string                  `json:"concurrency"`
	Triggers    []string                `json:"triggers"`
	Git         []GitState              `json:"git,omitempty"`
	Images      []model.ContinuousState `json:"images,omitempty"`
	Steps       []StepListing           `json:"steps"`
	LastRun     *Run                    `json:"lastRun,omitempty"`
}

// StepListing is one step of a Listing.
type StepListing struct {
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	Needs []string `json:"needs"`
}
