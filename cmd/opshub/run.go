package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/procmem"
)

// configFlag is the -c flag shared by commands that read a config file.
func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", envOr("OPSHUB_CONFIG", "opshub.yaml"), "config file (env OPSHUB_CONFIG)")
}

// daemonFlags are the flags of the long-running commands (run, collector,
// controller): the config file and how to log.
type daemonFlags struct {
	path, logLevel, logFormat string
}

func (f *daemonFlags) register(cmd *cobra.Command) {
	configFlag(cmd, &f.path)
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
}

// load builds the logger and loads the config, printing every config
// error with its line; the returned error is the command's exit. It sets
// the runtime's memory limit from the container's (procmem).
func (f *daemonFlags) load(cmd *cobra.Command) (*config.Config, *slog.Logger, error) {
	logger, err := newLogger(cmd.ErrOrStderr(), f.logLevel, f.logFormat)
	if err != nil {
		return nil, nil, usageError{err}
	}
	cfg, err := app.LoadConfig(f.path)
	if err != nil {
		printConfigErrors(cmd.ErrOrStderr(), f.path, err)
		return nil, nil, silentError{exitFailure}
	}
	procmem.SetLimitFromContainer(logger)
	return cfg, logger, nil
}

// memoryLimitHelp ends the help of the long-running commands (load sets
// the limit).
const memoryLimitHelp = `

In a container with a memory limit, the Go runtime's soft memory limit
(GOMEMLIMIT) is set to 90 % of it, so that memory is collected harder before
the kernel would kill the process. GOMEMLIMIT in the environment is kept as it
is; AUTOMEMLIMIT sets another share (for example 0.8) or turns this off (off).`

// releaseStartupPages returns what the long-running commands call once
// their parts are started: it unmaps the executable's pages that only
// start-up touched (package initialisers of everything linked in, config
// parsing), about 30 MiB of resident memory that nothing reads again; the
// pages still in use come back on their next access (see procmem).
func releaseStartupPages(log *slog.Logger) func() {
	return func() {
		n, err := procmem.ReleaseExecutablePages()
		if err != nil {
			log.Warn("start-up pages kept", "error", err)
			return
		}
		log.Debug("start-up pages released", "bytes", n)
	}
}

func newRunCommand() *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Run opshub on this machine: supervise workloads and serve the API",
		Long: `Run opshub on a single machine. Every workload in the config is supervised by
opshub's own process runtime (replicas, restarts with back-off, graceful stop,
a front proxy per port), its output is written in the kubelet's log format under
<dataDir>/pods, and the API is served on server.listen.

SIGINT or SIGTERM stops every workload within its grace period, then exits.
SIGHUP (or ` + "`opshub reload`" + `) re-reads the config file: an invalid file is refused
with every error and opshub goes on as it was; a valid one is applied to the
log sinks at once, and the sections that need a restart are named in the log.` + memoryLimitHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := f.load(cmd)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "opshub: %d workloads from %s; API on http://%s; logs under %s/pods\n",
				len(cfg.Workloads), f.path, cfg.Server.Listen, cfg.DataDir)
			reloads, stop := reloadSignals()
			defer stop()
			return app.Run(cmd.Context(), cfg, app.Options{Logger: logger, ConfigPath: f.path, Reload: reloads, Started: releaseStartupPages(logger)})
		},
	}
	f.register(cmd)
	return cmd
}

// reloadSignals turns each SIGHUP into a reload request until stop is
// called. Requests that arrive while one waits are merged into it.
func reloadSignals() (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	reloads := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				select {
				case reloads <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return reloads, func() {
		signal.Stop(sig)
		close(done)
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}
