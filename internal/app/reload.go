package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/reload"
	"github.com/opshub/opshub/server"
	"github.com/opshub/opshub/sinks"
)

// newReloader returns the Reloader of a process that runs sinks, or nil
// when it does not know its config file.
func newReloader(cfg *config.Config, path string, router *sinks.Router, reg prometheus.Registerer, log *slog.Logger) *reload.Reloader {
	if path == "" {
		return nil
	}
	return reload.New(cfg, reload.Options{Path: path, Logger: log, Sinks: router, Load: LoadConfig, SinkConfigs: SinkConfigs, Registerer: reg})
}

// reloadAPI is r for the API server, or nil (the endpoint then answers
// that reloading is not available) when r is nil.
func reloadAPI(r *reload.Reloader) server.ConfigReloader {
	if r == nil {
		return nil
	}
	return r
}

// watchReloads is the part that serves reload requests from reloads
// (SIGHUP); without a Reloader it says why each is ignored.
func watchReloads(r *reload.Reloader, reloads <-chan struct{}, log *slog.Logger) func(context.Context) error {
	if r != nil {
		return func(ctx context.Context) error { return r.Watch(ctx, reloads) }
	}
	return func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-reloads:
				log.Warn("cannot reload the config: this process was not started from a config file")
			}
		}
	}
}
