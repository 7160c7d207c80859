package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
)

// Exit codes, as fixed by the user-facing contract.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// silentError carries an exit code for failures already reported to the
// user (check-config prints its own error list).
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// globals are the flags every client command shares.
type globals struct {
	server string
	token  string
}

// client is the client of --server with --token; a bad --server is a usage
// error (exit 2).
func (g *globals) client() (*client.Client, error) {
	c, err := client.New(g.server, g.token)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// service is the client and the project/name of a command's SERVICE
// argument (PROJECT/NAME, or a name the API resolves). A bad --server is a
// usage error.
func (g *globals) service(ctx context.Context, arg string) (*client.Client, string, string, error) {
	c, err := g.client()
	if err != nil {
		return nil, "", "", err
	}
	project, name, err := resolveService(ctx, c, arg)
	if err != nil {
		return nil, "", "", err
	}
	return c, project, name, nil
}

// execute runs the CLI with args and returns the process exit code. Tests
// call it in-process.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var silent silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	fmt.Fprintf(stderr, "opshub: %v\n", err)
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", commandPath(root, args))
		return exitUsage
	}
	return exitFailure
}

// commandPath finds the command args name, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return root.CommandPath()
	}
	return cmd.CommandPath()
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "opshub",
		Short: "Observability and alerting hub for containerised services",
		Long: `opshub collects container logs and metrics, runs health checks, raises alerts
and autoscales services, on Kubernetes or on a single machine.

Run everything on this machine:   opshub run -c opshub.yaml
Run a Kubernetes node's agent:    opshub collector -c opshub.yaml
Run the cluster controller:       opshub controller -c opshub.yaml
Validate a config file:           opshub check-config -c opshub.yaml
Ask a running opshub:             opshub status`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", envOr("OPSHUB_SERVER", client.DefaultServer), "address of the opshub API (env OPSHUB_SERVER)")
	pf.StringVar(&g.token, "token", os.Getenv("OPSHUB_TOKEN"), "bearer token for the API (env OPSHUB_TOKEN)")

	root.AddCommand(
		newRunCommand(),
		newCollectorCommand(),
		newCheckConfigCommand(),
		newStatusCommand(g),
		newLogsCommand(g),
		newMetricsCommand(g),
		newAlertsCommand(g),
		newDeliveriesCommand(g),
		newVersionCommand(),
		newSpendCommand(g),
		newReloadCommand(g),
		newScaleCommand(g),
		newExecCommand(g),
		newShellCommand(g),
		newForwardCommand(g),
		newDeployCommand(g),
		newRollbackCommand(g),
		newReleasesCommand(g),
		newEnvCommand(g),
		newControllerCommand(),
	)
	root.AddCommand(newJobCommand(g), newFlowCommand(g))
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// wrapArgs makes argument-count errors usage errors (exit code 2).
func wrapArgs(c *cobra.Command) {
	if c.Args == nil {
		return
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
