package app

import (
	"net/url"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/server"
)

// execOptions maps server.exec onto the API's exec and forward endpoints,
// served by execer. A page served under server.externalURL may open
// sessions as well as one served at the address it was reached on.
func execOptions(cfg *config.Config, execer platform.Execer) server.ExecOptions {
	opts := server.ExecOptions{
		Execer:         execer,
		IdleTimeout:    cfg.Server.Exec.IdleTimeout.D(),
		MaxPerInstance: cfg.Server.Exec.MaxPerInstance,
	}
	if u, err := url.Parse(cfg.Server.ExternalURL); err == nil && u.Host != "" {
		opts.Origins = append(opts.Origins, u.Host)
	}
	return opts
}
