package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

func newMetricsCommand(g *globals) *cobra.Command {
	var (
		types     []string
		since     time.Duration
		step      time.Duration
		container string
		output    string
		aggregate bool
	)
	cmd := &cobra.Command{
		Use:   "metrics SERVICE",
		Short: "Show a service's container metrics: CPU, memory, network, disk, volumes",
		Long: `Show the metrics of a service's containers at 15 s resolution: one row per
series with its latest value, the range, and a sparkline of the period.
SERVICE is NAME or PROJECT/NAME.

Types: ` + metricTypeNames() + `.`,
		Example: `  opshub metrics demo/web --since 10m
  opshub metrics web --type cpu,memory,network-rx --container web-7f9c-1
  opshub metrics web --aggregate -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("unknown output format %q (want table or json)", output)
			}
			q := client.MetricsQuery{Container: container, Since: since, Step: step, Aggregate: aggregate}
			for _, t := range types {
				for name := range strings.SplitSeq(t, ",") {
					mt := model.MetricType(strings.TrimSpace(name))
					if !mt.Known() {
						return usageErrorf("unknown metric type %q (want %s)", name, metricTypeNames())
					}
					q.Types = append(q.Types, mt)
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			project, name, qualified := strings.Cut(args[0], "/")
			if !qualified {
				svcs, err := c.Services(cmd.Context())
				if err != nil {
					return err
				}
				svc, err := pickService(svcs, args[0])
				if err != nil {
					return err
				}
				project, name = svc.Project, svc.Name
			}
			q.Project, q.Service = project, name
			series, err := c.Metrics(cmd.Context(), q)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if series == nil {
					series = []model.MetricSeries{}
				}
				return enc.Encode(map[string]any{"series": series})
			}
			return renderMetrics(cmd.OutOrStdout(), project+"/"+name, since, series)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&types, "type", []string{"cpu", "memory"}, "metric types, comma-separated")
	f.DurationVar(&since, "since", 30*time.Minute, "how far back to show")
	f.DurationVar(&step, "step", 0, "resolution (default 15s)")
	f.StringVar(&container, "container", "", "only this instance or container")
	f.BoolVar(&aggregate, "aggregate", false, "one series per service, summed over its instances")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func metricTypeNames() string {
	names := make([]string, len(model.MetricTypes))
	for i, t := range model.MetricTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// sparkWidth is the most characters a sparkline takes.
const sparkWidth = 30

// renderMetrics writes one row per series: latest value, minimum and
// maximum over the period, and a sparkline.
func renderMetrics(w io.Writer, service string, since time.Duration, series []model.MetricSeries) error {
	if len(series) == 0 {
		_, err := fmt.Fprintf(w, "no metrics for %s in the last %s (is it running? metrics are read every 15s)\n", service, since)
		return err
	}
	fmt.Fprintf(w, "%s, last %s\n", service, since)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tINSTANCE\tLAST\tMIN\tMAX\tTREND")
	for _, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range s.Points {
			lo, hi = min(lo, p.Value), max(hi, p.Value)
		}
		who := s.Instance
		switch {
		case who == "" && s.Volume == "":
			who = "(all)"
		case s.Volume != "":
			who = "volume " + s.Volume
		}
		last := s.Points[len(s.Points)-1].Value
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Type, who,
			formatMetric(last, s.Unit), formatMetric(lo, s.Unit), formatMetric(hi, s.Unit), sparkline(s.Points, sparkWidth))
	}
	return tw.Flush()
}

// sparkline draws values as block characters, averaging them into at most
// width columns, scaled from the series' minimum to its maximum.
func sparkline(pts []model.MetricPoint, width int) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	n := min(len(pts), width)
	cols := make([]float64, n)
	for i := range n {
		a, b := i*len(pts)/n, (i+1)*len(pts)/n
		var sum float64
		for _, p := range pts[a:b] {
			sum += p.Value
		}
		cols[i] = sum / float64(b-a)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range cols {
		lo, hi = min(lo, v), max(hi, v)
	}
	var sb strings.Builder
	for _, v := range cols {
		i := 0
		if hi > lo {
			i = int(math.Round((v - lo) / (hi - lo) * float64(len(levels)-1)))
		}
		sb.WriteRune(levels[i])
	}
	return sb.String()
}

// formatMetric renders a value in its unit for people.
func formatMetric(v float64, unit string) string {
	switch unit {
	case "cores":
		return fmt.Sprintf("%.3f cores", v)
	case "bytes":
		return formatBytes(v)
	case "bytes/s":
		return formatBytes(v) + "/s"
	case "percent":
		return fmt.Sprintf("%.1f%%", v)
	case "lines/s":
		return fmt.Sprintf("%.1f lines/s", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func formatBytes(v float64) string {
	const unit = 1024
	if math.Abs(v) < unit {
		return fmt.Sprintf("%.0f B", v)
	}
	exp := 0
	for x := v / unit; math.Abs(x) >= unit && exp < 4; x /= unit {
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v/math.Pow(unit, float64(exp+1)), "KMGTP"[exp])
}
