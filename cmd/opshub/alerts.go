package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
)

func newAlertsCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Show active and recent alerts",
		Long:  `Show every alert opshub knows: firing ones first, then resolved ones, newest first.`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := alertsClient(g, output)
			if err != nil {
				return err
			}
			alerts, err := c.Alerts(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return writeAlertsJSON(cmd.OutOrStdout(), map[string]any{"alerts": alerts})
			}
			renderAlerts(cmd.OutOrStdout(), alerts, time.Now())
			// A disabled integration means alerts are not reaching anyone:
			// say so under the alerts too.
			if _, ins, err := c.Deliveries(cmd.Context()); err == nil {
				for _, in := range ins {
					if in.State == "disabled" {
						fmt.Fprintf(cmd.OutOrStdout(), "\nintegration %s (%s) is DISABLED: %s\n", in.Name, in.Type, in.Reason)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newDeliveriesCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "Show notification deliveries and the state of every integration",
		Long: `Show the state of every notification integration (a disabled one says why),
then the latest deliveries, newest first. Resend one with
'opshub deliveries resend ID'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := alertsClient(g, output)
			if err != nil {
				return err
			}
			ds, ins, err := c.Deliveries(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return writeAlertsJSON(cmd.OutOrStdout(), map[string]any{"deliveries": ds, "integrations": ins})
			}
			renderDeliveries(cmd.OutOrStdout(), ds, ins, time.Now())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	resend := &cobra.Command{
		Use:   "resend ID",
		Short: "Send a delivery's event again (re-enables a disabled integration)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.Resend(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queued %s to %s (resend of %s)\n", d.ID, d.Integration, args[0])
			return nil
		},
	}
	wrapArgs(resend)
	cmd.AddCommand(resend)
	return cmd
}

// alertsClient checks the output format of the alerts and deliveries
// commands (table or json) and returns the client.
func alertsClient(g *globals, output string) (*client.Client, error) {
	if output != "table" && output != "json" {
		return nil, usageErrorf("unknown output format %q (want table or json)", output)
	}
	return g.client()
}

func writeAlertsJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func renderAlerts(w io.Writer, alerts []client.Alert, now time.Time) {
	if len(alerts) == 0 {
		fmt.Fprintln(w, "No alerts.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tEVENT\tRESOURCE\tSINCE\tSUMMARY")
	for _, a := range alerts {
		res := strings.Trim(strings.Join([]string{a.Project, a.Service, a.Instance}, "/"), "/")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\n", a.Status, a.Event, res, alertAge(now, a.Since), a.Summary)
	}
	_ = tw.Flush()
}

func renderDeliveries(w io.Writer, ds []client.Delivery, ins []client.Integration, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INTEGRATION\tTYPE\tSTATE\tREASON")
	for _, in := range ins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, in.Type, strings.ToUpper(in.State), in.Reason)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	if len(ds) == 0 {
		fmt.Fprintln(w, "No deliveries.")
		return
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINTEGRATION\tEVENT\tSTATE\tATTEMPTS\tLAST STATUS\tWHEN\tERROR")
	for _, d := range ds {
		status := "-"
		if d.LastStatus != 0 {
			status = fmt.Sprint(d.LastStatus)
		}
		event := d.Event
		if d.Status == "resolved" {
			event += " (resolved)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s ago\t%s\n", d.ID, d.Integration, event, d.State, d.Attempts, status, alertAge(now, d.Time), alertOneLine(d.LastError, 80))
	}
	_ = tw.Flush()
}

func alertAge(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String()
}

func alertOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
