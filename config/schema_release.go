package config

// Release governs rollouts and release flows.
type Release struct {
	// ProgressDeadline is how long a rollout may make no progress before it
	// fails; default 10m.
	ProgressDeadline Duration `yaml:"progressDeadline"`
	// AutoRollback rolls a failed rollout back; default true.
	AutoRollback bool `yaml:"autoRollback"`
	// HistoryLimit is how many releases are kept per service; default 10.
	HistoryLimit int `yaml:"historyLimit"`
	// Flows keep ${ARG_<NAME>} for the flow's run-time arguments.
	Flows []Flow `yaml:"flows,omitempty" config:"keepargs"`
}

// Flow is a named DAG of steps.
type Flow struct {
	Name     string    `yaml:"name"`
	Triggers []Trigger `yaml:"triggers,omitempty"`
	// Concurrency is allow, queue or forbid; default queue.
	Concurrency string `yaml:"concurrency"`
	Steps       []Step `yaml:"steps"`
}

// Flow concurrency policies for a run started while another runs.
const (
	ConcurrencyAllow  = "allow"
	ConcurrencyQueue  = "queue"
	ConcurrencyForbid = "forbid"
)

// Trigger starts a flow; exactly one field is set. Flows can always be
// started from the API and CLI.
type Trigger struct {
	Webhook *WebhookTrigger `yaml:"webhook,omitempty"`
	Git     *GitTrigger     `yaml:"git,omitempty"`
}

// WebhookTrigger accepts signed POSTs to /hooks/flows/{name}. Exactly one of
// Secret and SecretFile is written; after Load, Secret holds it either way.
type WebhookTrigger struct {
	Secret     Secret `yaml:"secret,omitempty"`
	SecretFile string `yaml:"secretFile,omitempty"`
}

// MarshalYAML leaves the secret out when it came from a file.
func (w WebhookTrigger) MarshalYAML() (any, error) {
	type plain WebhookTrigger
	if w.SecretFile != "" {
		w.Secret = ""
	}
	return plain(w), nil
}

// GitTrigger starts the flow on a push to Branch (a GitHub push payload on
// the flow's webhook).
type GitTrigger struct {
	Branch string `yaml:"branch"`
	// Repository, as owner/name, restricts pushes to one repository.
	Repository string `yaml:"repository,omitempty"`
}

// Step is one node of a flow; exactly one of Run and Deploy is set.
type Step struct {
	// Name is unique within the flow.
	Name   string      `yaml:"name"`
	Run    *RunStep    `yaml:"run,omitempty"`
	Deploy *DeployStep `yaml:"deploy,omitempty"`
	// Needs are steps that must succeed first.
	Needs []string `yaml:"needs,omitempty"`
	// Retries after a failure, 0 to 10.
	Retries int `yaml:"retries,omitempty"`
	// Timeout of one attempt; 0 means none.
	Timeout Duration `yaml:"timeout,omitempty"`
}

// RunStep runs a command on the machine running the controller.
type RunStep struct {
	Command    []string          `yaml:"command"`
	Env        map[string]string `yaml:"env,omitempty"`
	WorkingDir string            `yaml:"workingDir,omitempty"`
}

// DeployStep rolls out a new release of a service. Fields left empty keep the
// service's current value.
type DeployStep struct {
	// Project defaults to the project of the only workload named Service
	// (platform kind local), else "default".
	Project string `yaml:"project"`
	Service string `yaml:"service"`
	Image   string `yaml:"image,omitempty"`
	// Command and Env keep per-instance variables such as ${PORT}, as a
	// workload's do.
	Command []string          `yaml:"command,omitempty" config:"keepinstance"`
	Env     map[string]string `yaml:"env,omitempty" config:"keepinstance"`
}
