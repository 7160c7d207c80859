package model

import "time"

// ConfigReload is the outcome of re-reading the config file of a running
// opshub (SIGHUP, POST /api/v1/config/reload, `opshub reload`).
type ConfigReload struct {
	File string    `json:"file"`
	Time time.Time `json:"time"`
	// Applied is false when the file was refused: the running config is
	// kept as it was, and Errors says why.
	Applied bool            `json:"applied"`
	Errors  []ConfigProblem `json:"errors,omitempty"`
	// Sinks is what the reload did to the log sinks.
	Sinks *SinkChanges `json:"sinks,omitempty"`
	// RestartRequired names the changed sections that take effect only
	// when opshub restarts ("workloads", "server.listen", …); the running
	// process goes on with their old values.
	RestartRequired []string `json:"restartRequired,omitempty"`
	// Releases names the releases the reload started, one per service
	// whose command, env or working directory changed ("demo/web revision 4").
	Releases []string `json:"releases,omitempty"`
}

// ConfigProblem is one error in a config file.
type ConfigProblem struct {
	File string `json:"file,omitempty"`
	// Line is 1-based; 0 when the problem has no single line.
	Line int `json:"line,omitempty"`
	// Path names the key, like "sinks[1].filter.include".
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// SinkChanges lists the log sinks a reload added, removed, changed and left
// alone, by name.
type SinkChanges struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
	// Validation is the result of the validation line of each added or
	// changed sink, when it came within the reload's wait; a paused sink
	// sends it only when resumed.
	Validation map[string]SinkValidation `json:"validation,omitempty"`
}
