package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

// releasePoll is how often --wait reads a rollout's progress.
const releasePoll = 500 * time.Millisecond

// waitFlags are the flags deploy and rollback share.
type waitFlags struct {
	wait    bool
	timeout time.Duration
	output  string
}

func (f *waitFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.wait, "wait", false, "follow the rollout until it ends; exit 1 when it fails or is rolled back (default on a terminal)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "with --wait, stop waiting after this long and exit 1 (0: no limit)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json (the release as started)")
}

func newDeployCommand(g *globals) *cobra.Command {
	var (
		f                                       waitFlags
		image, container, command, version, why string
		env                                     []string
		resume                                  bool
	)
	cmd := &cobra.Command{
		Use:   "deploy SERVICE",
		Short: "Roll out a new release of a service",
		Long: `Roll out a new release of SERVICE (NAME or PROJECT/NAME) with the given
changes to its run spec; what is not given stays as it is. On a single
machine a release changes the command, env and version; on Kubernetes the
image of a container and the env of the pod template.

Instances are replaced by the service's strategy (RollingUpdate: a new
instance is ready before an old one leaves the front proxy; Recreate, for
workloads with volumes: the old instance stops first). A rollout that does
not finish within release.progressDeadline, or whose new instances
crash-loop, fails and, with release.autoRollback, goes back to the last
succeeded revision.

With --wait (default on a terminal) progress is shown as it happens and the
exit code is 1 when the release fails or is rolled back. Needs a token with
the deploy scope.

A deploy (or rollback) by hand pauses the continuous deployment of the
service (release.continuous, Kubernetes), so that the next image pushed to
the tag does not replace what was deployed; opshub status SERVICE says so.
--resume-continuous, given alone, turns it on again: the registry is read
at once and its newest image deployed unless a release of it failed.`,
		Example: `  opshub deploy web --env GREETING=hello --version 1.4.2
  opshub deploy shop/api --command './bin/api --workers 4' --wait --timeout 5m
  opshub deploy web --env DEBUG-                      # remove DEBUG
  opshub deploy web --image registry.example.com/web:1.5 --container web   # Kubernetes
  opshub deploy web --resume-continuous               # follow the registry again`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if resume {
				for _, other := range []string{"image", "container", "command", "env", "version", "reason", "wait", "timeout"} {
					if cmd.Flags().Changed(other) {
						return usageErrorf("--resume-continuous changes nothing else: leave out --%s (deploy by hand pauses continuous deployment again)", other)
					}
				}
				return resumeContinuous(cmd, g, args[0], f.output)
			}
			req := client.DeployRequest{Image: image, Container: container, Version: version, Reason: why}
			if container != "" && image == "" {
				return usageErrorf("--container needs --image")
			}
			if cmd.Flags().Changed("command") {
				words, err := splitWords(command)
				if err != nil {
					return usageErrorf("--command: %v", err)
				}
				if len(words) == 0 {
					return usageErrorf("--command: must name a program")
				}
				req.Command = words
			}
			for _, kv := range env {
				if k, ok := strings.CutSuffix(kv, "-"); ok && !strings.Contains(kv, "=") {
					req.UnsetEnv = append(req.UnsetEnv, k)
					continue
				}
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--env %q: want KEY=VALUE, or KEY- to remove KEY", kv)
				}
				if req.Env == nil {
					req.Env = map[string]string{}
				}
				req.Env[k] = v
			}
			if req.Image == "" && req.Command == nil && req.Env == nil && req.UnsetEnv == nil && req.Version == "" {
				return usageErrorf("nothing to deploy: give at least one of --image, --command, --env or --version")
			}
			c, project, name, err := g.service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			rel, err := c.Deploy(cmd.Context(), project, name, req)
			if err != nil {
				return err
			}
			return f.follow(cmd, c, rel)
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "new image of a container (Kubernetes)")
	cmd.Flags().StringVar(&container, "container", "", "the container --image is for (Kubernetes; default the first)")
	cmd.Flags().StringVar(&command, "command", "", "new command line, one string split as a POSIX shell splits words")
	cmd.Flags().StringArrayVar(&env, "env", nil, "set KEY=VALUE, or remove KEY with KEY- (repeatable)")
	cmd.Flags().StringVar(&version, "version", "", "version of the release (free text)")
	cmd.Flags().StringVar(&why, "reason", "", "why, recorded with the release")
	cmd.Flags().BoolVar(&resume, "resume-continuous", false, "turn continuous deployment of the service on again (alone: no other change)")
	f.add(cmd)
	return cmd
}

// resumeContinuous is `opshub deploy SERVICE --resume-continuous`.
func resumeContinuous(cmd *cobra.Command, g *globals, service, output string) error {
	c, project, name, err := g.service(cmd.Context(), service)
	if err != nil {
		return err
	}
	states, err := c.ResumeContinuous(cmd.Context(), project, name)
	if err != nil {
		return err
	}
	if output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"continuous": states})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "continuous deployment of %s/%s resumed\n", project, name)
	renderContinuous(cmd.OutOrStdout(), states)
	return nil
}

func newRollbackCommand(g *globals) *cobra.Command {
	var (
		f  waitFlags
		to int
	)
	cmd := &cobra.Command{
		Use:   "rollback SERVICE [--to REVISION]",
		Short: "Go back to an earlier release of a service",
		Long: `Roll SERVICE back to the run spec of an earlier revision, by default the last
succeeded one before the current release. The rollback is a release of its
own, rolled out like a deploy. It restores the run spec (command, env,
version; on Kubernetes the pod template) and nothing else: data, volumes and
database migrations stay as they are. Needs a token with the deploy scope.`,
		Example: `  opshub rollback web
  opshub rollback shop/api --to 3 --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if to < 0 {
				return usageErrorf("--to %d: must be a revision number", to)
			}
			c, project, name, err := g.service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			rel, err := c.Rollback(cmd.Context(), project, name, to)
			if err != nil {
				return err
			}
			return f.follow(cmd, c, rel)
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "revision to go back to (default: the last succeeded one before the current)")
	f.add(cmd)
	return cmd
}

func newReleasesCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "releases SERVICE",
		Short: "List the release history of a service",
		Long: `List the releases of SERVICE, newest first: revision, state, what triggered
it, version, when it started and how long it took, and why it ended as it
did.`,
		Example: `  opshub releases web
  opshub releases shop/api -o json`,
		Args: cobra.ExactArgs(1),
		RunE: serviceList(g, &output, "releases", (*client.Client).Releases, func(w io.Writer, rels []model.Release) error {
			return renderReleases(w, rels, time.Now())
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// serviceList is the RunE of a command that reads a list about one
// service (SERVICE, the only argument) and prints it as a table or, with
// -o json, as {"<key>": [...]}.
func serviceList[T any](g *globals, output *string, key string, fetch func(*client.Client, context.Context, string, string) ([]T, error), render func(io.Writer, []T) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if *output != "table" && *output != "json" {
			return usageErrorf("unknown output format %q (want table or json)", *output)
		}
		c, project, name, err := g.service(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		list, err := fetch(c, cmd.Context(), project, name)
		if err != nil {
			return err
		}
		if *output == "json" {
			if list == nil {
				list = []T{}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{key: list})
		}
		return render(cmd.OutOrStdout(), list)
	}
}

func renderReleases(w io.Writer, rels []model.Release, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// On Kubernetes a release is above all an image: show it when any
	// release has one.
	images := slices.ContainsFunc(rels, func(r model.Release) bool { return r.Spec.Image != "" })
	if images {
		fmt.Fprintln(tw, "REVISION\tSTATE\tTRIGGER\tIMAGE\tVERSION\tSTARTED\tDURATION\tREASON")
	} else {
		fmt.Fprintln(tw, "REVISION\tSTATE\tTRIGGER\tVERSION\tSTARTED\tDURATION\tREASON")
	}
	for _, r := range rels {
		trigger := r.Trigger.Kind
		if r.Trigger.By != "" {
			trigger += " (" + r.Trigger.By + ")"
		}
		if r.RollbackOf != 0 {
			trigger += fmt.Sprintf(" → %d", r.RollbackOf)
		}
		end := now
		if r.Finished != nil {
			end = *r.Finished
		}
		state := r.State
		if r.State == model.ReleaseProgressing {
			state += fmt.Sprintf(" %d/%d", r.Progress.Updated, r.Progress.Desired)
		}
		if images {
			trigger += "\t" + dash(r.Spec.Image)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Revision, state, trigger, dash(r.Spec.Version),
			r.Started.Local().Format("2006-01-02 15:04:05"), end.Sub(r.Started).Round(100*time.Millisecond), dash(r.Reason))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (f *waitFlags) check() error {
	if f.output != "text" && f.output != "json" {
		return usageErrorf("unknown output format %q (want text or json)", f.output)
	}
	if f.timeout < 0 {
		return usageErrorf("--timeout must not be negative")
	}
	return nil
}

// isTerminal tells whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// follow prints the release that started and, with --wait, its progress
// until it ends: one line per change on a pipe, one live line on a
// terminal. It fails (exit 1) when the release does not succeed.
func (f *waitFlags) follow(cmd *cobra.Command, c *client.Client, rel model.Release) error {
	out := cmd.OutOrStdout()
	tty := isTerminal(out)
	wait := f.wait || (!cmd.Flags().Changed("wait") && tty)
	if f.output == "json" && !wait {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"release": rel})
	}
	fmt.Fprintf(out, "%s/%s: revision %d started (%s)\n", rel.Project, rel.Service, rel.Revision, rel.Trigger.Kind)
	if !wait {
		return nil
	}
	ctx := cmd.Context()
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	last := ""
	tick := time.NewTicker(releasePoll)
	defer tick.Stop()
	for {
		rels, err := c.Releases(ctx, rel.Project, rel.Service)
		if err != nil && ctx.Err() == nil {
			return err
		}
		for _, r := range rels {
			if r.Revision != rel.Revision {
				continue
			}
			line := progressLine(r)
			if tty {
				fmt.Fprintf(out, "\r\033[K%s", line)
			} else if line != last {
				fmt.Fprintln(out, line)
			}
			last = line
			if r.Done() {
				if tty {
					fmt.Fprintln(out)
				}
				return releaseOutcome(out, r, rels)
			}
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(out)
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				fmt.Fprintf(cmd.ErrOrStderr(), "revision %d still progressing after --timeout %s\n", rel.Revision, f.timeout)
				return silentError{code: 1}
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// progressLine is one step of a rollout: "revision 3 progressing: updated
// 1/3, ready 1, old 3; waiting on web-1a2b-4: readiness failing: HTTP 503".
func progressLine(r model.Release) string {
	p := r.Progress
	s := fmt.Sprintf("revision %d %s: updated %d/%d, ready %d, old %d", r.Revision, r.State, p.Updated, p.Desired, p.Ready, p.Old)
	if r.State == model.ReleaseProgressing && p.Waiting != "" {
		s += "; waiting on " + p.Waiting
	}
	return s
}

// releaseOutcome prints how a release ended; any end but success is exit 1.
func releaseOutcome(w io.Writer, r model.Release, rels []model.Release) error {
	end := r.Started
	if r.Finished != nil {
		end = *r.Finished
	}
	took := end.Sub(r.Started).Round(100 * time.Millisecond)
	if r.State == model.ReleaseSucceeded {
		fmt.Fprintf(w, "%s/%s: revision %d succeeded in %s\n", r.Project, r.Service, r.Revision, took)
		return nil
	}
	fmt.Fprintf(w, "%s/%s: revision %d %s after %s: %s\n", r.Project, r.Service, r.Revision, r.State, took, r.Reason)
	for _, o := range rels {
		if o.Revision > r.Revision && o.Trigger.Kind == model.TriggerAutoRollback {
			fmt.Fprintf(w, "rolling back to revision %d as revision %d (%s)\n", o.RollbackOf, o.Revision, o.State)
		}
	}
	return silentError{code: 1}
}
