package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

func newEnvCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "env SERVICE",
		Short: "Show the environment an instance of a service gets, with each variable's source",
		Long: `List the variables an instance of SERVICE (NAME or PROJECT/NAME) gets from
its release: the workload's own env, the config and secret groups that select
it, and values set by a deploy, each with its source (workload, group NAME,
deploy). Values from secret groups are shown as <secret>, whatever the token's
scopes. Instances also get opshub's own environment and the variables opshub
sets for each instance (PORT, OPSHUB_*), which are not listed. Needs a token
with the read scope.`,
		Example: `  opshub env web
  opshub env demo/api -o json`,
		Args: cobra.ExactArgs(1),
		RunE: serviceList(g, &output, "env", (*client.Client).Env, renderEnv),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func renderEnv(w io.Writer, env []model.EnvVar) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVALUE\tSOURCE")
	for _, e := range env {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Value, e.Source)
	}
	return tw.Flush()
}
