package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

func newReloadCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make a running opshub re-read its config file",
		Long: `Ask the running opshub to re-read its config file, as SIGHUP does (needs a
token with the admin scope, or a loopback client when no token is configured).

A file with any error is refused: every error is printed with its line, the
exit code is 1, and opshub goes on with the config it runs. A valid file is
applied to the log sinks at once: new sinks start and send their validation
line, changed ones restart with their new settings (keeping their buffer),
removed ones deliver what their buffer holds and stop, unchanged ones are not
touched. Changed sections that take effect only at a restart are named.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageErrorf("unknown output format %q (want text or json)", output)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.ReloadConfig(cmd.Context())
			var refused *client.ReloadError
			if err != nil && !errors.As(err, &refused) {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			}
			if refused != nil {
				printReloadProblems(cmd.ErrOrStderr(), refused)
				return silentError{exitFailure}
			}
			if output == "text" {
				renderReload(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// printReloadProblems prints each error of a refused reload on its own
// line, as check-config does, then what it means.
func printReloadProblems(w io.Writer, e *client.ReloadError) {
	for _, p := range e.Reload.Errors {
		var b strings.Builder
		switch {
		case p.File != "" && p.Line > 0:
			fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
		case p.File != "":
			b.WriteString(p.File + ": ")
		}
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Message)
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintf(w, "opshub: %s\n", e.Message)
}

// renderReload says what a reload changed.
func renderReload(w io.Writer, res model.ConfigReload) {
	fmt.Fprintf(w, "reloaded %s\n", res.File)
	if s := res.Sinks; s != nil {
		var parts []string
		validation := func(name string) string {
			v, ok := s.Validation[name]
			switch {
			case !ok:
				return "validation line pending"
			case v.OK:
				return "validation line delivered"
			default:
				return "validation line failed: " + v.Error
			}
		}
		for _, n := range s.Added {
			parts = append(parts, fmt.Sprintf("added %s (%s)", n, validation(n)))
		}
		for _, n := range s.Changed {
			parts = append(parts, fmt.Sprintf("restarted %s with its new settings (%s)", n, validation(n)))
		}
		for _, n := range s.Removed {
			parts = append(parts, fmt.Sprintf("removed %s (it delivers what its buffer holds, then stops)", n))
		}
		if len(s.Unchanged) > 0 {
			parts = append(parts, fmt.Sprintf("%d unchanged", len(s.Unchanged)))
		}
		if len(parts) == 0 {
			parts = append(parts, "none configured")
		}
		fmt.Fprintf(w, "sinks: %s\n", strings.Join(parts, "; "))
	}
	if len(res.Releases) > 0 {
		fmt.Fprintf(w, "releases started: %s\n", strings.Join(res.Releases, ", "))
	}
	if len(res.RestartRequired) > 0 {
		fmt.Fprintf(w, "changed, applied at the next restart: %s\n", strings.Join(res.RestartRequired, ", "))
	}
}
