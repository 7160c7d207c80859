package app

import (
	"log/slog"
	"net/url"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/platform/kubernetes"
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

// controllerExec serves exec and forward through the API server's pods/exec
// and pods/portforward. Without a
// REST config the endpoints answer 501 and the log says why.
func controllerExec(cfg *config.Config, plat *kubernetes.Platform, log *slog.Logger) server.ExecOptions {
	rc, err := kubernetes.RESTConfig(cfg.Platform.Kubeconfig)
	if err != nil {
		log.Warn("exec is not available", "err", err)
		return execOptions(cfg, nil)
	}
	execer, err := kubernetes.NewExecer(plat, rc)
	if err != nil {
		log.Warn("exec is not available", "err", err)
		return execOptions(cfg, nil)
	}
	return execOptions(cfg, execer)
}
