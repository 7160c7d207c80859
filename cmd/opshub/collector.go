package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/internal/app"
)

func newCollectorCommand() *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "collector -c FILE",
		Short: "Run the node agent on a Kubernetes node (DaemonSet): logs, kubelet metrics, node API",
		Long: `Run opshub's node agent on one Kubernetes node (platform.kind kubernetes,
platform.nodeName usually ${NODE_NAME} from the downward API).

It watches the pods of its node (one watch, field selector spec.nodeName),
tails their log files under collector.paths (default /var/log/pods) into the
sinks with checkpoints under dataDir, reads the kubelet's /metrics/cadvisor and
/stats/summary every 15 s (collector.kubelet, default https://$NODE_IP:10250),
and serves the node API on collector.listen (default :7421): /healthz,
/metrics, /api/v1/logs, /api/v1/logs/tail and /api/v1/node/samples. Clients
other than loopback need a bearer token that the API server's TokenReview
authenticates as one of platform.controllerIdentities. It keeps the Lease
opshub-collector-<node> in $POD_NAMESPACE, annotated with collector.advertise
(default http://$POD_IP:7421), so that the controller finds it.

SIGINT or SIGTERM stops it; lines handed to the sinks and not yet
acknowledged are read again by the next start.` + memoryLimitHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := f.load(cmd)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "opshub collector: node %s; node API on %s; state under %s\n",
				cfg.Platform.NodeName, cfg.Collector.NodeListen(), cfg.DataDir)
			reloads, stop := reloadSignals()
			defer stop()
			return app.RunCollector(cmd.Context(), cfg, app.CollectorOptions{Logger: logger, ConfigPath: f.path, Reload: reloads, Started: releaseStartupPages(logger)})
		},
	}
	f.register(cmd)
	return cmd
}
