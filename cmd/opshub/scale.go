package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newScaleCommand(g *globals) *cobra.Command {
	var (
		replicas int
		output   string
	)
	cmd := &cobra.Command{
		Use:   "scale SERVICE --replicas N",
		Short: "Set how many instances a service runs",
		Long: `Set the desired number of instances of SERVICE (NAME, or PROJECT/NAME when
the name is not unique). On a single machine opshub starts or stops
instances; on Kubernetes it updates the Deployment's or StatefulSet's scale
subresource. Needs a token with the deploy scope.

When an autoscaling policy manages the service, the change is made and a
warning says that the policy's next decision may change it again.`,
		Example: `  opshub scale web --replicas 3
  opshub scale shop/worker --replicas 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return usageErrorf("--replicas is required")
			}
			if replicas < 0 {
				return usageErrorf("--replicas %d: must not be negative", replicas)
			}
			if output != "text" && output != "json" {
				return usageErrorf("unknown output format %q (want text or json)", output)
			}
			c, project, name, err := g.service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			res, err := c.Scale(cmd.Context(), project, name, replicas)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s scaled from %d to %d replicas\n", res.Project, res.Service, res.Previous, res.Replicas)
			if res.Warning != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", res.Warning)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", 0, "desired number of instances (required)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
