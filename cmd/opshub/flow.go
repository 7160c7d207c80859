package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
)

func newFlowCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flow",
		Short: "Run release flows and follow, cancel, approve and roll back their runs",
	}
	cmd.AddCommand(newFlowRunCommand(g), newFlowStatusCommand(g), newFlowRunsCommand(g),
		newFlowCancelCommand(g), newFlowRollbackCommand(g), newFlowApproveCommand(g), newFlowLogsCommand(g))
	for _, c := range cmd.Commands() {
		wrapArgs(c)
	}
	return cmd
}

func newFlowRunCommand(g *globals) *cobra.Command {
	var (
		args   []string
		follow bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "run NAME [--arg K=V]",
		Short: "Start a run of a flow",
		Long: `Start a run of the flow NAME. Each --arg K=V is ${ARG_K} in the flow's steps
(names are upper-cased); a run whose steps use an argument not given fails
before any step starts. With concurrency queue the run may wait for the
runs before it; with forbid it is refused while one is queued or running.
-w follows the run step by step and exits 1 when it does not succeed.
Needs a token with the deploy scope.`,
		Example: `  opshub flow run ship-web --arg version=1.4.2 -w`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			vars := map[string]string{}
			for _, kv := range args {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--arg %q: want K=V", kv)
				}
				vars[k] = v
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			run, err := c.RunFlow(cmd.Context(), pos[0], vars)
			if err != nil {
				return err
			}
			if !follow {
				if output == "json" {
					return writeJSONOut(cmd, run)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "run %s of flow %s %s%s\n", run.ID, run.Flow, run.State, suffix(run.Message))
				if run.State == "failed" {
					return silentError{code: exitFailure}
				}
				return nil
			}
			return followFlowRun(cmd, c, run, output)
		},
	}
	cmd.Flags().StringArrayVar(&args, "arg", nil, "K=V: the run's argument ${ARG_K} (repeatable)")
	cmd.Flags().BoolVarP(&follow, "wait", "w", false, "follow the run step by step; exit 1 when it does not succeed")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newFlowStatusCommand(g *globals) *cobra.Command {
	var (
		follow bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "status RUN [-w]",
		Short: "Show a run and its steps; -w follows it until it ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			run, err := c.FlowRun(cmd.Context(), pos[0])
			if err != nil {
				return err
			}
			if follow {
				return followFlowRun(cmd, c, run, output)
			}
			if output == "json" {
				return writeJSONOut(cmd, run)
			}
			return printFlowRun(cmd.OutOrStdout(), run)
		},
	}
	cmd.Flags().BoolVarP(&follow, "wait", "w", false, "follow the run step by step; exit 1 when it does not succeed")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// followFlowRun prints each change of a step's state until the run ends,
// then the run; it fails when the run did not succeed.
func followFlowRun(cmd *cobra.Command, c *client.Client, run client.FlowRun, output string) error {
	w := cmd.ErrOrStderr()
	if output != "json" {
		w = cmd.OutOrStdout()
	}
	fmt.Fprintf(w, "run %s of flow %s: %s\n", run.ID, run.Flow, run.State)
	seen := map[string]string{}
	state := run.State
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, st := range run.Steps {
			key := fmt.Sprintf("%s/%d", st.State, st.Attempts)
			if seen[st.Name] == key || st.State == "pending" {
				continue
			}
			seen[st.Name] = key
			line := fmt.Sprintf("  %-20s %s", st.Name, st.State)
			if st.Attempts > 1 {
				line += fmt.Sprintf(" (attempt %d)", st.Attempts)
			}
			if st.Message != "" && st.State != "running" {
				line += ": " + st.Message
			}
			fmt.Fprintln(w, line)
		}
		if run.State != state {
			state = run.State
			if !run.Done() {
				fmt.Fprintf(w, "run %s: %s\n", run.ID, run.State)
			}
		}
		if run.Done() {
			break
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-tick.C:
		}
		next, err := c.FlowRun(cmd.Context(), run.ID)
		if err != nil {
			return err
		}
		run = next
	}
	if output == "json" {
		if err := writeJSONOut(cmd, run); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "run %s %s%s\n", run.ID, run.State, suffix(run.Message))
	}
	if run.State != "succeeded" {
		return silentError{code: exitFailure}
	}
	return nil
}

func printFlowRun(w io.Writer, run client.FlowRun) error {
	fmt.Fprintf(w, "run:      %s\nflow:     %s\nstate:    %s\ntrigger:  %s\n", run.ID, run.Flow, run.State, flowTrigger(run.Trigger))
	if len(run.Args) > 0 {
		var kv []string
		for k, v := range run.Args {
			kv = append(kv, k+"="+v)
		}
		fmt.Fprintf(w, "args:     %s\n", strings.Join(slices.Sorted(slices.Values(kv)), " "))
	}
	if run.Message != "" {
		fmt.Fprintf(w, "message:  %s\n", run.Message)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tSTATE\tATTEMPTS\tDURATION\tMESSAGE")
	for _, st := range run.Steps {
		dur := "-"
		if !st.Started.IsZero() && !st.Finished.IsZero() {
			dur = st.Finished.Sub(st.Started).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", st.Name, st.Kind, st.State, st.Attempts, dur, st.Message)
	}
	return tw.Flush()
}

func flowTrigger(t client.FlowTrigger) string {
	s := t.Kind
	if t.By != "" {
		s += " by " + t.By
	}
	if t.Provider != "" {
		s += " (" + t.Provider + ")"
	}
	if t.RollbackOf != "" {
		s += " of " + t.RollbackOf
	}
	return s
}

func newFlowRunsCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "runs [NAME]",
		Short: "List the runs of a flow (or of all flows), newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			name := ""
			if len(pos) == 1 {
				name = pos[0]
			}
			runs, err := c.FlowRuns(cmd.Context(), name)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(cmd, map[string][]client.FlowRun{"runs": runs})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tFLOW\tSTATE\tTRIGGER\tCREATED\tDURATION\tMESSAGE")
			for _, r := range runs {
				dur := "-"
				if !r.Started.IsZero() && !r.Finished.IsZero() {
					dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Flow, r.State, flowTrigger(r.Trigger),
					r.Created.Local().Format(time.DateTime), dur, r.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// flowRunAction is a command that acts on one run and prints it.
func flowRunAction(g *globals, use, short string, nargs int, act func(ctx context.Context, c *client.Client, pos []string) (client.FlowRun, error)) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, pos []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			run, err := act(cmd.Context(), c, pos)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(cmd, run)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s of flow %s: %s%s\n", run.ID, run.Flow, run.State, suffix(run.Message))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newFlowCancelCommand(g *globals) *cobra.Command {
	return flowRunAction(g, "cancel RUN", "Cancel a queued or running run (running steps are stopped, the rest skipped)", 1,
		func(ctx context.Context, c *client.Client, pos []string) (client.FlowRun, error) {
			return c.CancelFlowRun(ctx, pos[0])
		})
}

func newFlowRollbackCommand(g *globals) *cobra.Command {
	cmd := flowRunAction(g, "rollback RUN", "Put every service a run deployed or promoted back to the release it ran before", 1,
		func(ctx context.Context, c *client.Client, pos []string) (client.FlowRun, error) {
			return c.RollbackFlowRun(ctx, pos[0])
		})
	cmd.Long = `Start a run (trigger rollback) that puts every service RUN deployed or
promoted back to the revision it ran before RUN. Jobs (migrations), commands
and backups are never undone; the new run's message names those of RUN.
Follow it with opshub flow status ID -w.`
	return cmd
}

func newFlowApproveCommand(g *globals) *cobra.Command {
	return flowRunAction(g, "approve RUN STEP", "Approve an approval step that waits", 2,
		func(ctx context.Context, c *client.Client, pos []string) (client.FlowRun, error) {
			return c.ApproveFlowStep(ctx, pos[0], pos[1])
		})
}

func newFlowLogsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logs RUN STEP",
		Short: "Print the kept output of one step of a run (its last 500 lines)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, pos []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			lines, err := c.FlowStepLogs(cmd.Context(), pos[0], pos[1])
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			return nil
		},
	}
}
