package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
)

func newControllerCommand() *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "controller -c FILE",
		Short: "Run the cluster controller (leader-elected): alerts, notifications, spend, autoscaling, API",
		Long: `Run opshub's cluster controller on Kubernetes (platform.kind: kubernetes).
Run two or more replicas: they elect a leader on the Lease opshub-controller
in platform.namespace (default $POD_NAMESPACE, else opshub), named by $POD_NAME.

The leader restores opshub's state from Secrets in that namespace, then runs
alerting and notifications, the spend meter, the autoscaler (scaling through
the workloads' scale subresource) and the API on server.listen. It pulls
container samples from every live collector ('opshub collector') each metrics
interval, and answers log queries by asking the collectors of the nodes that
host the service.

A follower serves /healthz and /readyz (ready once it follows a leader) and
passes every other request to the leader's pod (same port); when it cannot
reach the leader it answers 503 with the leader's name. A leader that
loses its Lease stops at once and exits with status 1, so that Kubernetes
starts it again as a follower. SIGINT or SIGTERM stops the leader's parts,
releases the Lease for a quick hand-over, and exits.` + memoryLimitHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := f.load(cmd)
			if err != nil {
				return err
			}
			if cfg.Platform.Kind != config.PlatformKubernetes {
				return fmt.Errorf("%s: platform.kind is %q; opshub controller needs kubernetes (on one machine use opshub run)", f.path, cfg.Platform.Kind)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "opshub controller: lease %s/%s; API on http://%s\n",
				app.ControllerNamespace(cfg), app.ControllerLease, cfg.Server.Listen)
			reloads, stop := reloadSignals()
			defer stop()
			return app.RunController(cmd.Context(), cfg, app.ControllerOptions{Logger: logger, ConfigPath: f.path, Reload: reloads, Started: releaseStartupPages(logger)})
		},
	}
	f.register(cmd)
	return cmd
}
