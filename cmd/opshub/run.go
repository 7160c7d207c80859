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
)

// configFlag is the -c flag shared by commands that read a config file.
func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", envOr("OPSHUB_CONFIG", "opshub.yaml"), "config file (env OPSHUB_CONFIG)")
}

func newRunCommand() *cobra.Command {
	var (
		path      string
		logLevel  string
		logFormat string
	)
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
log sinks at once, and the sections that need a restart are named in the log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return usageError{err}
			}
			cfg, err := config.Load(path)
			if err != nil {
				printConfigErrors(cmd.ErrOrStderr(), path, err)
				return silentError{exitFailure}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "opshub: %d workloads from %s; API on http://%s; logs under %s/pods\n",
				len(cfg.Workloads), path, cfg.Server.Listen, cfg.DataDir)
			reloads, stop := reloadSignals()
			defer stop()
			return app.Run(cmd.Context(), cfg, app.Options{Logger: logger, ConfigPath: path, Reload: reloads})
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
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
