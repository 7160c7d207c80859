package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	k8s "k8s.io/client-go/kubernetes"

	"github.com/opshub/opshub/alerting"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/jobs"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/release/flow"
	"github.com/opshub/opshub/store"
)

// FlowSpecs maps the config's release.flows onto package flow's specs.
func FlowSpecs(cfg *config.Config) []flow.Spec {
	var out []flow.Spec
	for _, f := range cfg.Release.Flows {
		s := flow.Spec{Name: f.Name, Concurrency: f.Concurrency}
		for _, t := range f.Triggers {
			if wh := t.Webhook; wh != nil {
				s.Webhooks = append(s.Webhooks, flow.Webhook{Secret: []byte(wh.Secret), Branch: wh.Branch})
			}
			if g := t.Git; g != nil {
				s.Git = append(s.Git, flow.Git{Repo: g.Repo, Branch: g.Branch, Interval: g.PollInterval.D()})
			}
		}
		for _, st := range f.Steps {
			step := flow.Step{Name: st.Name, Needs: st.Needs, Retries: st.Retries, Timeout: st.Timeout.D(), Env: st.Env}
			switch {
			case st.Run != nil:
				step.Run = &flow.RunStep{Command: st.Run.Command, Env: st.Run.Env, WorkingDir: st.Run.WorkingDir}
			case st.Job != nil:
				step.Job = &flow.JobStep{Project: st.Job.Project, Name: st.Job.Name, Env: st.Job.Env}
			case st.Deploy != nil:
				d := st.Deploy
				step.Deploy = &flow.DeployStep{Project: d.Project, Service: d.Service, Image: d.Image, Container: d.Container, Command: d.Command, Env: d.Env, Version: d.Version}
			case st.Promote != nil:
				p := st.Promote
				step.Promote = &flow.PromoteStep{From: flow.ServiceRef(p.From), To: flow.ServiceRef(p.To)}
			case st.Backup != nil:
				step.Backup = &flow.BackupStep{Project: st.Backup.Project, Service: st.Backup.Service, Volume: st.Backup.Volume, VolumeSnapshotClass: st.Backup.VolumeSnapshotClass}
			case st.HTTP != nil:
				h := st.HTTP
				step.HTTP = &flow.HTTPStep{URL: h.URL, Method: h.Method, Headers: h.Headers, Body: h.Body}
			case st.Approval != nil:
				step.Approval = &flow.ApprovalStep{Message: st.Approval.Message}
			}
			s.Steps = append(s.Steps, step)
		}
		out = append(out, s)
	}
	return out
}

// flowDeps are what flows use of the rest of opshub.
type flowDeps struct {
	commands flow.Commands
	jobs     *jobs.Engine
	// jobLines reads the last lines of a job run's instance; nil leaves
	// them out.
	jobLines alerting.LastLinesReader
	releases flow.Releases
	volumes  flow.Volumes
	// snapshots takes backup steps as volume snapshots (Kubernetes).
	snapshots flow.Snapshots
	// retryDelay is the first wait before a failed step is retried.
	retryDelay time.Duration
}

func newFlows(cfg *config.Config, deps flowDeps, db *store.DB, publish func(model.Event), log *slog.Logger) (*flow.Engine, error) {
	client, err := outbound.NewClient("flow-http", outbound.ClientConfig{}, 30*time.Second)
	if err != nil {
		return nil, err
	}
	opts := flow.Options{
		DB: db, Commands: deps.commands, Releases: deps.releases, Volumes: deps.volumes, Snapshots: deps.snapshots,
		HTTP: client, Publish: publish, Logger: log,
		BackupDir: filepath.Join(cfg.DataDir, "backups"), RetryDelay: deps.retryDelay,
	}
	if deps.jobs != nil {
		opts.Jobs = flowJobs{engine: deps.jobs, lines: deps.jobLines}
	}
	e, err := flow.New(FlowSpecs(cfg), opts)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	return e, nil
}

// commandRunner is the local runtime's way of running a one-off command.
type commandRunner interface {
	RunCommand(ctx context.Context, name string, command []string, env map[string]string, dir string, out io.Writer) (int, error)
}

// localCommands runs run steps as processes on this machine.
type localCommands struct{ rt commandRunner }

func (c localCommands) RunCommand(ctx context.Context, cmd flow.Command, out io.Writer) (int, error) {
	name := fmt.Sprintf("%s-%s-%d", cmd.Run, cmd.Step, cmd.Attempt)
	return c.rt.RunCommand(ctx, name, cmd.Command, cmd.Env, cmd.WorkingDir, out)
}

// flowJobs runs a flow's job steps through the jobs engine.
type flowJobs struct {
	engine *jobs.Engine
	lines  alerting.LastLinesReader
}

// jobStepLines is how many lines of a job run's last attempt a job step
// keeps in its log.
const jobStepLines = 50

func (f flowJobs) RunJob(ctx context.Context, project, name string, env map[string]string, started func(string)) (flow.JobResult, error) {
	run, err := f.engine.Start(project, name, jobs.TriggerFlow, env)
	if err != nil {
		return flow.JobResult{}, err
	}
	started(run.ID)
	run, err = f.engine.Wait(ctx, project, name, run.ID)
	if err != nil {
		return flow.JobResult{}, err
	}
	res := flow.JobResult{ID: run.ID, State: run.State, Message: run.Message, Attempts: run.Attempts, ExitCode: run.ExitCode}
	if f.lines != nil && len(run.Instances) > 0 {
		ref := model.Ref{Project: project, Service: name, Instance: run.Instances[len(run.Instances)-1], Container: name}
		res.Lines, _ = f.lines.LastLines(ctx, ref, time.Now().Add(time.Second), jobStepLines)
	}
	return res, nil
}

// jobTemplates maps each flow to the jobTemplate its run steps are created
// from on Kubernetes.
func jobTemplates(cfg *config.Config) map[string]config.JobTemplate {
	out := map[string]config.JobTemplate{}
	for _, f := range cfg.Release.Flows {
		if f.JobTemplate != nil {
			out[f.Name] = *f.JobTemplate
		}
	}
	return out
}

// kubeCommands runs run steps as Jobs created from their flow's
// jobTemplate, with the step's command and env.
type kubeCommands struct {
	p         *kubernetes.Platform
	templates map[string]config.JobTemplate
}

func (k kubeCommands) RunCommand(ctx context.Context, cmd flow.Command, out io.Writer) (int, error) {
	t, ok := k.templates[cmd.Flow]
	if !ok {
		return 0, fmt.Errorf("flow %s has no jobTemplate for its run steps", cmd.Flow)
	}
	exit, err := k.p.RunFromTemplate(ctx, kubernetes.JobRequest{
		Project: t.Project, Name: t.Name, JobName: commandJob(cmd), Env: cmd.Env, Command: cmd.Command, Container: t.Container, Logs: out,
	}, func(job string) { fmt.Fprintf(out, "[opshub] job %s created from %s/%s\n", job, t.Project, t.Name) })
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "[opshub] job ended: exit code %d (%s)\n", exit.Code, exit.Reason)
	return exit.Code, nil
}

// StopCommand deletes the Job of a run step's attempt that a previous
// leader left running.
func (k kubeCommands) StopCommand(ctx context.Context, cmd flow.Command) (string, error) {
	t, ok := k.templates[cmd.Flow]
	if !ok {
		return "", nil
	}
	job, err := k.p.DeleteJobFromTemplate(ctx, kubernetes.JobRequest{Project: t.Project, Name: t.Name, JobName: commandJob(cmd)})
	if err != nil || job == "" {
		return "", err
	}
	return "its job " + job + " was deleted with its pods", nil
}

// commandJob names the Job of a run step's attempt.
func commandJob(cmd flow.Command) string {
	return fmt.Sprintf("%s-%s-%d", cmd.Run, cmd.Step, cmd.Attempt)
}

// newKubeJobs runs the cluster's CronJobs and Jobs on demand and from
// flows: Kubernetes runs their schedules itself, so none is configured
// here; a job is found by name when a run is asked for.
func newKubeJobs(p *kubernetes.Platform, db *store.DB, publish func(model.Event), log *slog.Logger) (*jobs.Engine, error) {
	return jobs.New(nil, jobs.Options{
		Runner: p, DB: db, Publish: publish, Logger: log,
		Lookup: func(project, name string) (jobs.Spec, bool) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if !p.IsJob(ctx, project, name) {
				return jobs.Spec{}, false
			}
			return jobs.Spec{Project: project, Name: name}, true
		},
	})
}

// flowSnapshots takes the flows' backup steps on Kubernetes as CSI
// VolumeSnapshots. A config with backup steps is refused when the cluster
// does not serve the VolumeSnapshot API; one without gets nil.
func flowSnapshots(cfg *config.Config, client k8s.Interface, p *kubernetes.Platform) (flow.Snapshots, error) {
	var steps []string
	for i, f := range cfg.Release.Flows {
		for j, st := range f.Steps {
			if st.Backup != nil {
				steps = append(steps, fmt.Sprintf("release.flows[%d].steps[%d].backup", i, j))
			}
		}
	}
	if len(steps) == 0 {
		return nil, nil
	}
	ok, err := kubernetes.HasSnapshotAPI(client)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", steps[0], err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: the cluster does not serve VolumeSnapshots (%s): install the CSI snapshot CRDs and snapshot-controller, or remove the backup step(s)",
			strings.Join(steps, ", "), kubernetes.SnapshotAPI)
	}
	sc, err := kubernetes.NewSnapshotClient(cfg.Platform.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubeSnapshots{kubernetes.NewSnapshotter(p, sc)}, nil
}

// kubeSnapshots takes backup steps as VolumeSnapshots named after the
// run, step and attempt.
type kubeSnapshots struct{ s *kubernetes.Snapshotter }

func (k kubeSnapshots) SnapshotVolume(ctx context.Context, req flow.SnapshotRequest, out io.Writer) ([]string, error) {
	return k.s.Snapshot(ctx, kubernetes.SnapshotRequest{
		Project: req.Project, Service: req.Service, Volume: req.Volume, Class: req.Class,
		Flow: req.Flow, Run: req.Run, Step: req.Step, Name: fmt.Sprintf("%s-%s-%d", req.Run, req.Step, req.Attempt),
	}, out)
}

func (k kubeSnapshots) DeleteSnapshots(ctx context.Context, names []string) error {
	return k.s.Delete(ctx, names)
}
