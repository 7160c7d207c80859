package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting"
	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/pagerduty"
	"github.com/opshub/opshub/alerting/notify/slack"
	"github.com/opshub/opshub/alerting/notify/teams"
	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugins"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Notifiers maps every notification integration type to its plugin
// (internal/plugins lists them).
func Notifiers() notify.Registry { return plugins.Notifiers() }

// minIntervals are the least gaps between two messages to one destination,
// from the destinations' documented limits (Slack: about one message per
// second per channel; PagerDuty: about 120 events per minute per key;
// Teams: 4 requests a second per webhook).
var minIntervals = map[string]time.Duration{
	slack.Type:     time.Second,
	pagerduty.Type: 500 * time.Millisecond,
	teams.Type:     time.Second / teams.RequestsPerSecond,
}

// newAlerting builds the alerting pipeline of opshub run: crashed
// containers' last lines are read from the runtime's log files under
// podsDir (or collector.paths) with the log API's reader. An empty podsDir
// leaves them out.
func newAlerting(cfg *config.Config, platform alerting.Subscriber, podsDir string, windows alerting.MetricWindows, db *store.DB, reg prometheus.Registerer, log *slog.Logger) (*alerting.Pipeline, error) {
	var logs alerting.LastLinesReader
	if podsDir != "" {
		logs = collector.LastLines{Reader: crashLogReader(cfg, podsDir, platform)}
	}
	return newAlertingWithLogs(cfg, platform, logs, windows, db, reg, log, 0, nil)
}

// crashLogReader reads log files as the log API does on one machine.
func crashLogReader(cfg *config.Config, podsDir string, platform alerting.Subscriber) *collector.Reader {
	roots := cfg.Collector.Paths
	if len(roots) == 0 {
		roots = []string{podsDir}
	}
	var res collector.Resolver
	if services, ok := platform.(serviceLister); ok {
		res = &serviceResolver{services: services, now: time.Now}
	}
	return collector.NewReader(collector.ReaderOptions{Roots: roots, Resolver: res, MaxLineBytes: int(cfg.Collector.MaxLineBytes)})
}

// newAlertingWithLogs builds the alerting pipeline with one notifier per
// configured integration. logs, when not nil, gives crash and OOM events
// the container's last lines: on a cluster, pass the controller's log
// reader over the collectors (the one GET /api/v1/logs uses).
//
// deliveriesKept bounds the delivery history (0: the pipeline's default).
// tags tells the tags of a service for integrations that filter on them;
// nil takes them from the config's workloads (on a cluster, pass the
// platform's, which reads kubernetes.TagsAnnotation).
func newAlertingWithLogs(cfg *config.Config, platform alerting.Subscriber, logs alerting.LastLinesReader, windows alerting.MetricWindows, db *store.DB, reg prometheus.Registerer, log *slog.Logger, deliveriesKept int, tags func(project, service string) []string) (*alerting.Pipeline, error) {
	registry := Notifiers()
	if tags == nil {
		tags = workloadTags(cfg)
	}
	var ins []alerting.Integration
	for _, ic := range cfg.Notifications.Integrations {
		n, err := registry.New(notify.Spec{Name: ic.Name, Type: ic.Type, Settings: ic.Settings, Logger: log})
		if err != nil {
			return nil, err
		}
		ins = append(ins, alerting.Integration{
			Name: ic.Name, Type: ic.Type,
			Route:       alerting.Route{Events: ic.Events, Projects: ic.Projects, Services: ic.Services, Tags: ic.Tags, TagsOf: tags},
			Notifier:    n,
			MinInterval: minIntervals[ic.Type],
			Fingerprint: fingerprint(ic),
			Retry:       retryPolicy(cfg.Notifications.RetryFor(ic)),
		})
	}
	return alerting.New(alerting.Options{
		Store:        db,
		Rules:        alertRules(cfg.Alerts),
		Integrations: ins,
		Platform:     platform,
		Metrics:      windows,
		Logs:         logs,
		APIBase:      cfg.Server.BaseURL(),
		// Every write of the controller's state is copied to the API
		// server whole: keep its history short there.
		DeliveriesKept: deliveriesKept,
		Logger:         log,
		Registerer:     reg,
		Retry:          retryPolicy(cfg.Notifications.Retry),
	})
}

// workloadTags tells the tags of the config's workloads, for integrations
// that filter on tags.
func workloadTags(cfg *config.Config) func(project, service string) []string {
	tags := map[model.Ref][]string{}
	for _, w := range cfg.Workloads {
		tags[model.Ref{Project: w.Project, Service: w.Name}] = w.Tags
	}
	return func(project, service string) []string {
		return tags[model.Ref{Project: project, Service: service}]
	}
}

// alertRules maps the alerts section onto the pipeline's rules.
func alertRules(a config.Alerts) alerting.Rules {
	r := alerting.Rules{
		Throttle:  map[string]time.Duration{},
		CrashLoop: alerting.CrashLoop{Restarts: a.CrashLoop.Restarts, Window: a.CrashLoop.Window.D()},
		CPU:       alerting.UsageRule{Threshold: a.CPU.Threshold, SustainedFor: a.CPU.SustainedFor.D()},
		Memory:    alerting.UsageRule{Threshold: a.Memory.Threshold, SustainedFor: a.Memory.SustainedFor.D()},
		Volume:    alerting.VolumeRule{Thresholds: a.Volume.Thresholds, ForecastWithin: a.Volume.ForecastFullWithin.D()},
	}
	for k, d := range a.Throttle {
		r.Throttle[k] = d.D()
	}
	for _, s := range a.Silences {
		r.Silences = append(r.Silences, alerting.Silence{Matchers: s.Matchers, Until: s.Until})
	}
	return r
}

// retryPolicy maps notifications.retry onto the pipeline's policy.
func retryPolicy(r config.Retry) alerting.RetryPolicy {
	return alerting.RetryPolicy{
		Initial:      r.InitialBackoff.D(),
		Max:          r.MaxBackoff.D(),
		GiveUpAfter:  r.GiveUpAfter.D(),
		DisableAfter: r.DisableAfter,
	}
}

// fingerprint identifies an integration's config, so that changing it
// re-enables an integration that was disabled.
func fingerprint(ic config.Integration) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", ic.Name, ic.Type)
	if ic.Raw != nil {
		b, _ := yaml.Marshal(ic.Raw)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// metricWindows lets the alerting detectors read the metrics store.
type metricWindows struct{ store *metrics.Store }

var _ alerting.MetricWindows = metricWindows{}

// Window implements alerting.MetricWindows.
func (m metricWindows) Window(typ model.MetricType, from, to time.Time) []model.MetricSeries {
	return m.store.Query(metrics.Query{Types: []model.MetricType{typ}, From: from, To: to})
}
