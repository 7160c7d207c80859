package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/reload"
	"github.com/opshub/opshub/metrics"
)

// startup is the sequence every command (run, collector, controller)
// follows around its own parts. begin: the logger (discarded when none is
// given), the data directory and the metrics registry. Then the command
// builds its parts, and runParts takes the API listener (before any part
// starts, so that a taken port fails fast and nothing is started for
// nothing), starts the config reloader and the command's parts in one
// group, waits until they have all stopped and closes what the command
// holds.
type startup struct {
	log *slog.Logger
	reg *prometheus.Registry
}

func begin(cfg *config.Config, logger *slog.Logger) (*startup, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	return &startup{log: logger, reg: newRegistry()}, nil
}

// checkDataDir creates dataDir and writes a file in it, so that a
// directory opshub cannot write (read-only, another user's, not a
// directory) is one clear error at start instead of a failure of whichever
// part writes first.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dataDir %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err == nil {
		_, err = f.Write([]byte("opshub\n"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(f.Name()); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("dataDir %s is not writable (opshub keeps its state, checkpoints and buffers there; set dataDir to a writable directory): %w", dir, err)
	}
	return nil
}

// command is what runParts needs of a command besides its parts.
type command struct {
	// listener, when set, is used for the API (tests pass one on
	// 127.0.0.1:0); otherwise runParts listens on listen, the value of the
	// config setting named setting.
	listener        net.Listener
	setting, listen string
	// reloader and reloads serve config reloads (see watchReloads).
	reloader *reload.Reloader
	reloads  <-chan struct{}
	// endsWithAnyPart: the command is done when any of its parts is.
	endsWithAnyPart bool
	// start starts the command's parts in g; ln is the API listener.
	start func(g *partGroup, ln net.Listener)
	// started, when set, is called once start has returned.
	started func()
	// closeAfter runs once every part has stopped.
	closeAfter func()
}

// runParts runs the command's parts until ctx ends or one fails (any ends,
// with endsWithAnyPart), and returns every part's failure.
func (s *startup) runParts(ctx context.Context, c command) error {
	ln := c.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", c.listen); err != nil {
			return fmt.Errorf("listen on %s %s: %w", c.setting, c.listen, err)
		}
	}
	g := newPartGroup(ctx)
	g.endsWithAnyPart = c.endsWithAnyPart
	g.start("config reload", watchReloads(c.reloader, c.reloads, s.log))
	c.start(g, ln)
	if c.started != nil {
		c.started()
	}
	err := g.wait()
	if c.closeAfter != nil {
		c.closeAfter()
	}
	return err
}

// metricsInterval is the interval a command reads or pulls metrics at:
// the one its options give, else metrics.DefaultInterval.
func metricsInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return metrics.DefaultInterval
	}
	return d
}
