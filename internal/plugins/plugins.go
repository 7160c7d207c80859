// Package plugins is the list of sink and notification integration types
// this build has: the one place that names every plugin package. The
// binary's wiring fills the registries from it, and config.Parse asks it for
// each type's settings (it satisfies config.Plugins), so that check-config
// and start-up decode and validate a plugin's keys the same way.
//
// It must not import config: config's own tests use it.
package plugins

import (
	"maps"
	"slices"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/alertmanager"
	"github.com/opshub/opshub/alerting/notify/discord"
	"github.com/opshub/opshub/alerting/notify/email"
	"github.com/opshub/opshub/alerting/notify/pagerduty"
	"github.com/opshub/opshub/alerting/notify/slack"
	"github.com/opshub/opshub/alerting/notify/teams"
	"github.com/opshub/opshub/alerting/notify/webhook"
	"github.com/opshub/opshub/sinks"
	"github.com/opshub/opshub/sinks/datadog"
	"github.com/opshub/opshub/sinks/elasticsearch"
	"github.com/opshub/opshub/sinks/file"
	sinkhttp "github.com/opshub/opshub/sinks/http"
	"github.com/opshub/opshub/sinks/loki"
	"github.com/opshub/opshub/sinks/remotewrite"
	"github.com/opshub/opshub/sinks/s3"
	"github.com/opshub/opshub/sinks/stdout"
	"github.com/opshub/opshub/sinks/syslog"
)

// Sinks maps every sink type, of log records or of metric samples, to its
// plugin. A destination package adds its line here.
func Sinks() map[string]sinks.Plugin {
	return map[string]sinks.Plugin{
		"file":           file.Plugin,
		"stdout":         stdout.Plugin,
		"http":           sinkhttp.Plugin,
		"loki":           loki.Plugin,
		"elasticsearch":  elasticsearch.Plugin,
		"datadog":        datadog.Plugin,
		"syslog":         syslog.Plugin,
		"s3":             s3.Plugin,
		remotewrite.Type: remotewrite.Plugin,
	}
}

// IsSampleSink reports whether typ is a sink of metric samples rather than
// of log records.
func IsSampleSink(typ string) bool {
	return Sinks()[typ].Samples != nil
}

// Notifiers maps every notification integration type to its plugin.
func Notifiers() notify.Registry {
	return notify.Registry{
		webhook.Type:      webhook.Plugin,
		discord.Type:      discord.Plugin,
		slack.Type:        slack.Plugin,
		alertmanager.Type: alertmanager.Plugin,
		pagerduty.Type:    pagerduty.Plugin,
		teams.Type:        teams.Plugin,
		email.Type:        email.Plugin,
	}
}

// Set answers config's questions about the types of this build.
type Set struct{}

// SinkSettings implements config.Plugins.
func (Set) SinkSettings(typ string) (interface{ Validate() error }, bool) {
	p, ok := Sinks()[typ]
	if !ok {
		return nil, false
	}
	return p.Settings(), true
}

// IntegrationSettings implements config.Plugins.
func (Set) IntegrationSettings(typ string) (interface{ Validate() error }, bool) {
	p, ok := Notifiers()[typ]
	if !ok {
		return nil, false
	}
	return p.Settings(), true
}

// SinkTypes implements config.Plugins.
func (Set) SinkTypes() []string {
	return slices.Sorted(maps.Keys(Sinks()))
}

// IntegrationTypes implements config.Plugins.
func (Set) IntegrationTypes() []string { return slices.Sorted(maps.Keys(Notifiers())) }
