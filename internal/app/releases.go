package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/alerting"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/release"
	"github.com/opshub/opshub/store"
)

// newReleases builds the release manager of a platform; logs, when set,
// gives deploy.failed the last lines of a failing new instance.
func newReleases(cfg *config.Config, p platform.Releaser, db *store.DB, logs alerting.LastLinesReader, publish func(model.Event), reg prometheus.Registerer, log *slog.Logger) (*release.Manager, error) {
	opts := release.Options{
		Platform:          p,
		DB:                db,
		Publish:           publish,
		Logger:            log,
		Registerer:        reg,
		ProgressDeadline:  cfg.Release.ProgressDeadline.D(),
		AutoRollback:      cfg.Release.AutoRollback,
		HistoryLimit:      cfg.Release.HistoryLimit,
		CrashLoopRestarts: cfg.Alerts.CrashLoop.Restarts,
	}
	if logs != nil {
		opts.Logs = func(ctx context.Context, ref model.Ref, n int) ([]string, error) {
			lines, err := logs.LastLines(ctx, ref, time.Now().Add(time.Second), n)
			if lines == nil && err == nil {
				lines = []string{}
			}
			return lines, err
		}
	}
	m, err := release.New(opts)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	return m, nil
}
