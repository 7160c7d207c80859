// Command opshub is the single binary of opshub: the local runtime and hub
// (`run`), the Kubernetes node agent and controller, config validation, and
// the client commands that talk to a running opshub's API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// Time-zone data inside the binary: the image has no /usr/share/zoneinfo,
	// and job schedules name their time zone.
	_ "time/tzdata"
)

func main() { os.Exit(run()) }

// run turns SIGINT and SIGTERM into a cancelled context; nothing below cmd
// handles signals.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
