package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
)

func newJobCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Run jobs and read their run history",
	}
	cmd.AddCommand(newJobRunCommand(g), newJobRunsCommand(g))
	for _, c := range cmd.Commands() {
		wrapArgs(c)
	}
	return cmd
}

func newJobRunCommand(g *globals) *cobra.Command {
	var (
		env    []string
		wait   bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "run JOB [--env K=V]",
		Short: "Start a run of a job now",
		Long: `Start a run of JOB (NAME, or PROJECT/NAME when the name is not unique) now,
with --env added to its environment. The job's concurrencyPolicy applies:
with Forbid a run is refused while another runs, with Replace the running
one is stopped. --wait follows the run until it ends and exits 1 when it
failed. The run's logs are those of its instances (opshub logs PROJECT/JOB).
Needs a token with the deploy scope.`,
		Example: `  opshub job run demo/migrate --env VERSION=1.4.2
  opshub job run migrate --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vars := map[string]string{}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--env %q: want K=V", kv)
				}
				vars[k] = v
			}
			c, project, name, err := g.service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			run, err := c.RunJob(cmd.Context(), project, name, vars)
			if err != nil {
				return err
			}
			if !wait {
				if output == "json" {
					return writeJSONOut(cmd, run)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "run %s of %s/%s started\n", run.ID, project, name)
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "run %s of %s/%s started\n", run.ID, project, name)
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for run.State == "running" {
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-tick.C:
				}
				runs, err := c.JobRuns(cmd.Context(), project, name)
				if err != nil {
					return err
				}
				for _, r := range runs {
					if r.ID == run.ID {
						run = r
					}
				}
			}
			if output == "json" {
				if err := writeJSONOut(cmd, run); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "run %s %s after %d attempt(s)%s\n", run.ID, run.State, run.Attempts, suffix(run.Message))
			}
			if run.State != "succeeded" {
				return silentError{code: exitFailure}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&env, "env", nil, "K=V added to the run's environment (repeatable)")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the run until it ends; exit 1 when it failed")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func writeJSONOut(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newJobRunsCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "runs JOB",
		Short: "List a job's runs, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, name, err := g.service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			runs, err := c.JobRuns(cmd.Context(), project, name)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(cmd, map[string][]client.JobRun{"runs": runs})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATE\tTRIGGER\tSTARTED\tDURATION\tATTEMPTS\tEXIT\tMESSAGE")
			for _, r := range runs {
				dur, exit := "-", "-"
				if !r.Finished.IsZero() {
					dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
				}
				if r.ExitCode != nil {
					exit = fmt.Sprint(*r.ExitCode)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.State, r.Trigger,
					r.Started.Local().Format(time.DateTime), dur, r.Attempts, exit, r.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
