// Command opshub-demo is the service that opshub's tests, examples and README
// demo supervise. On demand it provokes everything opshub watches: log lines
// at a steady rate on stdout and stderr, Prometheus metrics, passing or
// failing probes, CPU burn, held memory, a growing volume, exits with a
// chosen code, crashes by signal, and slow or refused shutdowns.
//
// Every knob is a flag, an environment variable DEMO_<FLAG>, and for the
// live ones a parameter of GET or POST /control, which replies with the
// settings as JSON; "opshub-demo --help" lists them all.
//
// It is a test fixture: it uses the standard library only and none of
// opshub's own packages, so that a broken opshub cannot break the thing that
// tests it, and what it prints must stay stable because tests match on it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is the whole command: it parses the configuration, turns SIGTERM and
// SIGINT into a cancelled context, runs the demo and maps how it ended to
// an exit code (0, 1 on failure, 2 on a usage error, or the code asked
// for); a crash request ends the process by signal instead.
func run(args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, environ)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "opshub-demo: %v\nRun 'opshub-demo --help' for usage.\n", err)
		return 2
	}
	demo, err := New(cfg, deps{stdout: stdout, stderr: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "opshub-demo: %v\n", err)
		return 1
	}
	defer demo.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if demo.onSignal(sig) {
					cancel()
					// A second Ctrl-C stops a slow shutdown at once.
					signal.Reset(os.Interrupt)
				}
			}
		}
	})
	err = demo.Run(ctx)
	close(done)
	watcher.Wait()

	var exit *exitError
	var crashed *crashError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &crashed):
		return crash(crashed.signal, stderr)
	case err != nil:
		fmt.Fprintf(stderr, "opshub-demo: %v\n", err)
		return 1
	}
	return 0
}
