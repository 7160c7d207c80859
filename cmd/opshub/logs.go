package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

type logsFlags struct {
	container string
	follow    bool
	since     time.Duration
	from, to  string
	grep      string
	regex     string
	exclude   bool
	lines     int
	direction string
	output    string
}

func newLogsCommand(g *globals) *cobra.Command {
	f := &logsFlags{}
	cmd := &cobra.Command{
		Use:   "logs SERVICE",
		Short: "Show or follow the logs of a service",
		Long: `Show the logs of every container of a service, or of one with -c. SERVICE is
NAME or PROJECT/NAME. Without a time range the last -n lines are shown, oldest
first; -f then follows new lines as they are written. --grep and --regex keep
matching lines; with --exclude they drop them instead.`,
		Example: `  opshub logs demo/web --regex 'GET|error' --since 5m
  opshub logs demo/web -c web-1 -f
  opshub logs demo/web --from 2026-11-24T10:00:00Z --to 2026-11-24T11:00:00Z -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := f.query()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if q.Project, q.Service, err = resolveService(cmd.Context(), c, args[0]); err != nil {
				return err
			}
			print := func(rec model.LogRecord) error { return printLogRecord(cmd.OutOrStdout(), f.output, rec) }
			if f.follow {
				err := c.TailLogs(cmd.Context(), q, print)
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			recs, err := c.Logs(cmd.Context(), q)
			if err != nil {
				return err
			}
			// Unless asked for newest first, show lines in the order they
			// were written, as tail does.
			if q.Direction == "backward" && f.direction == "" {
				slices.Reverse(recs)
			}
			for _, rec := range recs {
				if err := print(rec); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.container, "container", "c", "", "only this container (an instance name or a container name)")
	fl.BoolVarP(&f.follow, "follow", "f", false, "follow new lines as they are written")
	fl.DurationVar(&f.since, "since", 0, "only lines newer than this (5m, 1h)")
	fl.StringVar(&f.from, "from", "", "only lines at or after this RFC 3339 time")
	fl.StringVar(&f.to, "to", "", "only lines before this RFC 3339 time")
	fl.StringVar(&f.grep, "grep", "", "only lines containing this text")
	fl.StringVar(&f.regex, "regex", "", "only lines matching this regular expression (RE2 syntax)")
	fl.BoolVar(&f.exclude, "exclude", false, "invert --grep and --regex: drop the lines they match")
	fl.IntVarP(&f.lines, "lines", "n", 100, "at most this many lines (with -f: how many to start with)")
	fl.StringVar(&f.direction, "direction", "", "forward (oldest first) or backward (newest first); default forward with --from, else the last lines")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// query checks the flags and turns them into a log query.
func (f *logsFlags) query() (client.LogQuery, error) {
	q := client.LogQuery{Container: f.container, Since: f.since, Limit: f.lines}
	if f.output != "text" && f.output != "json" {
		return q, usageErrorf("unknown output format %q (want text or json)", f.output)
	}
	if f.lines <= 0 {
		return q, usageErrorf("-n must be positive, got %d", f.lines)
	}
	for _, p := range []struct {
		flag, value string
		dst         *time.Time
	}{{"--from", f.from, &q.From}, {"--to", f.to, &q.To}} {
		if p.value == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.value)
		if err != nil {
			return q, usageErrorf("%s must be an RFC 3339 time such as 2026-11-24T10:00:00Z: %v", p.flag, err)
		}
		*p.dst = t
	}
	if f.regex != "" {
		if _, err := regexp.Compile(f.regex); err != nil {
			return q, usageErrorf("--regex: %v", err)
		}
	}
	if f.exclude && f.grep == "" && f.regex == "" {
		return q, usageErrorf("--exclude inverts --grep or --regex; give one of them")
	}
	if f.exclude {
		q.TextNotIncludes, q.RegexNotIncludes = f.grep, f.regex
	} else {
		q.TextIncludes, q.RegexIncludes = f.grep, f.regex
	}
	switch f.direction {
	case "":
		q.Direction = "backward"
		if !q.From.IsZero() {
			q.Direction = "forward"
		}
	case "forward", "backward":
		q.Direction = f.direction
	default:
		return q, usageErrorf("--direction must be forward or backward, got %q", f.direction)
	}
	return q, nil
}

// resolveService turns SERVICE (NAME or PROJECT/NAME) into its project and
// name, asking the server when the project is left out.
func resolveService(ctx context.Context, c *client.Client, arg string) (string, string, error) {
	if project, name, ok := strings.Cut(arg, "/"); ok {
		return project, name, nil
	}
	svcs, err := c.Services(ctx)
	if err != nil {
		return "", "", err
	}
	svc, err := pickService(svcs, arg)
	if err != nil {
		return "", "", err
	}
	return svc.Project, svc.Name, nil
}

// printLogRecord writes one line: "<time> <instance> <stream> <text>" as
// text, or the record as JSON.
func printLogRecord(w io.Writer, output string, rec model.LogRecord) error {
	if output == "json" {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s %s %s\n", rec.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), rec.Instance, rec.Stream, rec.Log)
	return err
}
