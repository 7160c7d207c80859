package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
)

func newStatusCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [SERVICE]",
		Short: "Show services, their instances, and what needs attention",
		Long: `Show every service with its instances: container status, readiness, restarts,
last exit and restart back-off, followed by a triage list of instances that
need attention. SERVICE is NAME or PROJECT/NAME. With SERVICE it also shows
the current release, a rollout in progress, and continuous deployment
(release.continuous): what it follows, the digest seen and deployed, and
whether a deploy by hand paused it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("unknown output format %q (want table or json)", output)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			svcs, err := c.Services(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) == 1 {
				svc, err := pickService(svcs, args[0])
				if err != nil {
					return err
				}
				svcs = []model.Service{svc}
			}
			var current, rollout *model.Release
			var cont []model.ContinuousState
			if len(args) == 1 {
				if current, rollout, err = releaseState(cmd.Context(), c, svcs[0]); err != nil {
					return err
				}
				if cont, err = continuousState(cmd.Context(), c, svcs[0]); err != nil {
					return err
				}
			}
			if output == "json" {
				body := statusJSON{Services: svcs, Release: current, Rollout: rollout, Continuous: cont}
				if body.Sinks, err = sinksForJSON(cmd.Context(), c, len(args) == 0); err != nil {
					return err
				}
				if body.Collector, err = collectorForJSON(cmd.Context(), c, len(args) == 0); err != nil {
					return err
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(body)
			}
			if err := renderStatus(cmd.OutOrStdout(), svcs, time.Now()); err != nil {
				return err
			}
			renderReleaseState(cmd.OutOrStdout(), current, rollout)
			renderContinuous(cmd.OutOrStdout(), cont)
			if err := showSinks(cmd.Context(), cmd.OutOrStdout(), c, len(args) == 0, time.Now()); err != nil {
				return err
			}
			if len(args) == 0 {
				_, integrations, err := c.Deliveries(cmd.Context())
				if err != nil {
					return err
				}
				renderNotifications(cmd.OutOrStdout(), integrations, time.Now())
			}
			decisions, err := c.Autoscaling(cmd.Context(), false)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				decisions = slices.DeleteFunc(decisions, func(d client.AutoscalingDecision) bool {
					return d.Project != svcs[0].Project || d.Service != svcs[0].Name
				})
			}
			return renderAutoscaling(cmd.OutOrStdout(), decisions, time.Now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// statusJSON is what `opshub status -o json` prints: the services, and,
// as in the table view, the log sinks when every service is shown.
type statusJSON struct {
	Services []model.Service     `json:"services"`
	Sinks    *[]model.SinkStatus `json:"sinks,omitempty"`
	// Collector is the log collector's state, as the Sinks section shows
	// it; left out where the server runs none.
	Collector *model.CollectorStatus `json:"collector,omitempty"`
	// Release is the current (last succeeded) release and Rollout the one
	// in progress, when one service is shown.
	Release *model.Release `json:"release,omitempty"`
	Rollout *model.Release `json:"rollout,omitempty"`
	// Continuous is the state of the service's continuous deployments
	// (paused or not), when one service is shown.
	Continuous []model.ContinuousState `json:"continuous,omitempty"`
}

// continuousState reads a service's continuous deployments; a server
// without them has none.
func continuousState(ctx context.Context, c *client.Client, svc model.Service) ([]model.ContinuousState, error) {
	states, err := c.Continuous(ctx, svc.Project, svc.Name)
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusNotImplemented) {
		return nil, nil
	}
	return states, err
}

// releaseState finds a service's current release and the rollout in
// progress; a server without releases has neither.
func releaseState(ctx context.Context, c *client.Client, svc model.Service) (current, rollout *model.Release, err error) {
	rels, err := c.Releases(ctx, svc.Project, svc.Name)
	if err != nil {
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusNotImplemented) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	for i := range rels {
		switch {
		case rels[i].State == model.ReleaseProgressing && rollout == nil:
			rollout = &rels[i]
		case rels[i].State == model.ReleaseSucceeded && current == nil:
			current = &rels[i]
		}
	}
	return current, rollout, nil
}

// renderReleaseState prints the current revision and a rollout in progress.
func renderReleaseState(w io.Writer, current, rollout *model.Release) {
	if current == nil && rollout == nil {
		return
	}
	fmt.Fprintln(w)
	if current != nil {
		fmt.Fprintf(w, "Release: revision %d (%s", current.Revision, current.Trigger.Kind)
		if current.Spec.Version != "" {
			fmt.Fprintf(w, ", version %s", current.Spec.Version)
		}
		fmt.Fprintf(w, ", since %s)\n", current.Started.Local().Format("2006-01-02 15:04:05"))
	}
	if rollout != nil {
		fmt.Fprintf(w, "Rollout in progress: %s\n", progressLine(*rollout))
	}
}

// pickService finds SERVICE given as NAME or PROJECT/NAME.
func pickService(svcs []model.Service, arg string) (model.Service, error) {
	project, name, qualified := strings.Cut(arg, "/")
	if !qualified {
		name, project = project, ""
	}
	var found []model.Service
	for _, s := range svcs {
		if s.Name == name && (project == "" || s.Project == project) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, s := range svcs {
			names = append(names, s.Project+"/"+s.Name)
		}
		return model.Service{}, fmt.Errorf("no service %q (services: %s)", arg, strings.Join(names, ", "))
	default:
		var names []string
		for _, s := range found {
			names = append(names, s.Project+"/"+s.Name)
		}
		return model.Service{}, usageErrorf("service name %q is ambiguous, say one of: %s", arg, strings.Join(names, ", "))
	}
}
