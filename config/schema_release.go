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
	// Continuous lists the containers whose image follows a registry tag
	// (Kubernetes).
	Continuous []Continuous `yaml:"continuous,omitempty"`
	// Flows keep ${ARG_<NAME>} for the flow's run-time arguments.
	Flows []Flow `yaml:"flows,omitempty" config:"keepargs"`
}

// Flow is a named DAG of steps.
type Flow struct {
	Name     string    `yaml:"name"`
	Triggers []Trigger `yaml:"triggers,omitempty"`
	// Concurrency is allow, queue or forbid; default queue.
	Concurrency string `yaml:"concurrency"`
	// JobTemplate names the Job or CronJob (Kubernetes) whose template the
	// flow's run steps are created from, as `kubectl create job --from`.
	JobTemplate *JobTemplate `yaml:"jobTemplate,omitempty"`
	Steps       []Step       `yaml:"steps"`
}

// JobTemplate is a Job or CronJob in the cluster.
type JobTemplate struct {
	// Project is the namespace; default "default".
	Project string `yaml:"project"`
	// Name is the CronJob's (or, when there is none, the Job's) name.
	Name string `yaml:"name"`
	// Container is the container whose command a run step replaces;
	// default the first.
	Container string `yaml:"container,omitempty"`
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
	Image   *ImageTrigger   `yaml:"image,omitempty"`
}

// kinds names the kinds set.
func (t Trigger) kinds() []string {
	var out []string
	if t.Webhook != nil {
		out = append(out, "webhook")
	}
	if t.Git != nil {
		out = append(out, "git")
	}
	if t.Image != nil {
		out = append(out, "image")
	}
	return out
}

// WebhookTrigger accepts signed POSTs to /hooks/flows/{name}. Exactly one of
// Secret and SecretFile is written; after Load, Secret holds it either way.
type WebhookTrigger struct {
	Secret     Secret `yaml:"secret,omitempty"`
	SecretFile string `yaml:"secretFile,omitempty"`
	// Branch, when set, starts runs only for push payloads to this branch;
	// other calls are answered 200 with the reason they were skipped.
	Branch string `yaml:"branch,omitempty"`
}

// MarshalYAML leaves the secret out when it came from a file.
func (w WebhookTrigger) MarshalYAML() (any, error) {
	type plain WebhookTrigger
	if w.SecretFile != "" {
		w.Secret = ""
	}
	return plain(w), nil
}

// GitTrigger polls a repository's branch with `git ls-remote` and starts a
// run for each new head commit.
type GitTrigger struct {
	// Repo is anything `git ls-remote` takes: a URL or a path.
	Repo   string `yaml:"repo"`
	Branch string `yaml:"branch"`
	// PollInterval is how often the branch is read; default 1m.
	PollInterval Duration `yaml:"pollInterval"`
}

// Step is one node of a flow; exactly one of its kinds (run, job, deploy,
// promote, backup, http, approval) is set.
type Step struct {
	// Name is unique within the flow.
	Name     string        `yaml:"name"`
	Run      *RunStep      `yaml:"run,omitempty"`
	Job      *JobStep      `yaml:"job,omitempty"`
	Deploy   *DeployStep   `yaml:"deploy,omitempty"`
	Promote  *PromoteStep  `yaml:"promote,omitempty"`
	Backup   *BackupStep   `yaml:"backup,omitempty"`
	HTTP     *HTTPStep     `yaml:"http,omitempty"`
	Approval *ApprovalStep `yaml:"approval,omitempty"`
	// Needs are steps that must succeed first.
	Needs []string `yaml:"needs,omitempty"`
	// Retries after a failure, 0 to 10, with exponential back-off.
	Retries int `yaml:"retries,omitempty"`
	// Timeout of one attempt; 0 means none (an approval waits 24h).
	Timeout Duration `yaml:"timeout,omitempty"`
	// Env is added to the environment of a run or job step, and to the
	// env of a deploy.
	Env map[string]string `yaml:"env,omitempty"`
}

// StepKinds are the keys that make a step, in the order errors list them.
var StepKinds = []string{"run", "job", "deploy", "promote", "backup", "http", "approval"}

// Kind names the step's kind; "" when none is set. With more than one set,
// it names the first.
func (s Step) Kind() string {
	for i, set := range s.kinds() {
		if set {
			return StepKinds[i]
		}
	}
	return ""
}

func (s Step) kinds() []bool {
	return []bool{s.Run != nil, s.Job != nil, s.Deploy != nil, s.Promote != nil, s.Backup != nil, s.HTTP != nil, s.Approval != nil}
}

// RunStep runs a one-off command: on one machine a process on the machine
// running opshub, on Kubernetes a Job from the flow's jobTemplate.
type RunStep struct {
	Command    []string          `yaml:"command"`
	Env        map[string]string `yaml:"env,omitempty"`
	WorkingDir string            `yaml:"workingDir,omitempty"`
}

// JobStep runs a declared job (a workload with restartPolicy Never or
// OnFailure) and waits for the run to end.
type JobStep struct {
	// Project defaults as a deploy step's does.
	Project string            `yaml:"project"`
	Name    string            `yaml:"name"`
	Env     map[string]string `yaml:"env,omitempty"`
}

// DeployStep rolls out a new release of a service and waits for it to
// succeed. Fields left empty keep the service's current value.
type DeployStep struct {
	// Project defaults to the project of the only workload named Service
	// (platform kind local), else "default".
	Project string `yaml:"project"`
	Service string `yaml:"service"`
	Image   string `yaml:"image,omitempty"`
	// Container is the container whose image changes (Kubernetes).
	Container string `yaml:"container,omitempty"`
	// Command and Env keep per-instance variables such as ${PORT}, as a
	// workload's do.
	Command []string          `yaml:"command,omitempty" config:"keepinstance"`
	Env     map[string]string `yaml:"env,omitempty" config:"keepinstance"`
	Version string            `yaml:"version,omitempty"`
}

// ServiceRef names a service.
type ServiceRef struct {
	// Project defaults as a deploy step's does.
	Project string `yaml:"project"`
	Service string `yaml:"service"`
}

// PromoteStep copies the current release spec of one service onto another
// (staging → production) and waits for that release to succeed.
type PromoteStep struct {
	From ServiceRef `yaml:"from"`
	To   ServiceRef `yaml:"to"`
}

// BackupStep makes a consistent copy of a service's volume: on one machine
// a compressed archive under dataDir/backups, on Kubernetes a CSI
// VolumeSnapshot of each claim behind the volume; either is kept with the
// run.
type BackupStep struct {
	Project string `yaml:"project"`
	Service string `yaml:"service"`
	// Volume names a volume of the workload (on Kubernetes, of its pod
	// template, or a StatefulSet's volumeClaimTemplate).
	Volume string `yaml:"volume"`
	// VolumeSnapshotClass is the class of the snapshots (Kubernetes);
	// empty uses the cluster's default class.
	VolumeSnapshotClass string `yaml:"volumeSnapshotClass,omitempty"`
}

// HTTPStep calls a URL; a 2xx answer is success.
type HTTPStep struct {
	URL string `yaml:"url"`
	// Method defaults to POST when a body is given, else GET.
	Method  string            `yaml:"method,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty"`
}

// ApprovalStep waits until someone approves it (POST
// /api/v1/flows/runs/{id}/steps/{step}/approve, `opshub flow approve`), or
// fails at the step's timeout.
type ApprovalStep struct {
	// Message tells the approver what they approve.
	Message string `yaml:"message,omitempty"`
}
