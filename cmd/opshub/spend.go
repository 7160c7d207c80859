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

func newSpendCommand(g *globals) *cobra.Command {
	var (
		by       []string
		from, to string
		output   string
	)
	cmd := &cobra.Command{
		Use:   "spend",
		Short: "Show month-to-date spend, its breakdown and the month-end forecast",
		Long: `Show what the services cost in the current billing month (or between --from
and --to), broken down --by project, service, instance and/or resource (cpu,
memory, volume), with two month-end forecasts: the month so far extended
linearly, and the last 7 days' pace.

The ledger keeps costs per project, service and resource by the hour for
spend.retention.hourlyMonths (this and the previous month by default), by
the day before that, and per instance by the month. --by instance over whole
months gives each instance its cost; over a shorter range each instance gets
a share of its service's cost in the range, by its cost in the month counted
for the part of the range between its first and last charged hour (exact for
instances at a steady rate). Rolled-up months show no instances.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("unknown output format %q (want table or json)", output)
			}
			for _, d := range by {
				switch d {
				case "project", "service", "instance", "resource":
				default:
					return usageErrorf("--by %q: want project, service, instance or resource", d)
				}
			}
			var fromT, toT time.Time
			for _, p := range []struct {
				flag, value string
				dst         *time.Time
			}{{"--from", from, &fromT}, {"--to", to, &toT}} {
				if p.value == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, p.value)
				if err != nil {
					return usageErrorf("%s %q: want an RFC 3339 time such as 2026-11-01T00:00:00Z", p.flag, p.value)
				}
				*p.dst = t
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			sp, err := c.Spend(cmd.Context(), by, fromT, toT)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sp)
			}
			return renderSpend(cmd.OutOrStdout(), sp, by)
		},
	}
	cmd.Flags().StringSliceVar(&by, "by", []string{"project"}, "break down by project, service, instance and/or resource (comma-separated)")
	cmd.Flags().StringVar(&from, "from", "", "start of the range (RFC 3339); default the start of the billing month")
	cmd.Flags().StringVar(&to, "to", "", "end of the range (RFC 3339); default now")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// renderSpend writes the breakdown, the total and the forecasts. Amounts
// are shown to the cent, or to a hundredth of a cent while the total is
// small (a service that started minutes ago).
func renderSpend(w io.Writer, sp client.Spend, by []string) error {
	prec := 2
	if sp.Forecasts.Week < 10 && sp.Total < 10 {
		prec = 4
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var head []string
	for _, d := range by {
		head = append(head, strings.ToUpper(d))
	}
	fmt.Fprintf(tw, "%s\tCOST (%s)\n", strings.Join(head, "\t"), sp.Currency)
	for _, r := range sp.Rows {
		var cols []string
		for _, d := range by {
			v := map[string]string{"project": r.Project, "service": r.Service, "instance": r.Instance, "resource": r.Resource}[d]
			if v == "" {
				v = "-"
			}
			cols = append(cols, v)
		}
		fmt.Fprintf(tw, "%s\t%.*f\n", strings.Join(cols, "\t"), prec, r.Cost)
	}
	fmt.Fprintf(tw, "%sTOTAL\t%.*f\n", strings.Repeat("\t", len(by)-1), prec, sp.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s to %s\n", sp.From, sp.To)
	fmt.Fprintf(w, "Forecast for the month: %.*f %s at the last 7 days' pace, %.*f %s extended linearly\n",
		prec, sp.Forecasts.Week, sp.Currency, prec, sp.Forecasts.Month, sp.Currency)
	return nil
}
