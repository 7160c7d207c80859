package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// shutdownTimeout bounds draining HTTP on SIGTERM.
	shutdownTimeout = 30 * time.Second
	// exitTimeout bounds draining HTTP before exit= or --exit-after ends the
	// process: long enough for the reply to exit= to leave.
	exitTimeout = 2 * time.Second
)

// deps are what a Demo needs from outside: where its output goes, and for
// tests a listener to serve on and a clock for readiness.
type deps struct {
	stdout, stderr io.Writer
	listener       net.Listener     // when nil, Run listens on the configured address
	now            func() time.Time // defaults to time.Now
}

// Demo is one running demo service.
type Demo struct {
	cfg      config
	now      func() time.Time
	listener net.Listener

	knobs          *knobs
	stdout, stderr *stream
	memory         *memory
	volume         *volume // nil without a volume directory
	burner         *burner

	requests atomic.Uint64
	handlers sync.WaitGroup // HTTP handlers in flight
	exits    chan exitRequest
	running  atomic.Bool
	served   atomic.Bool // the listener belongs to the HTTP server

	closeOnce sync.Once
}

// exitRequest asks Run to end the process with a code, or with a signal
// when signal is set.
type exitRequest struct {
	code   int
	signal syscall.Signal
}

// exitError is what Run returns when the process should exit with code.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit with code %d", e.code) }

// crashError is what Run returns when the process should die of signal.
type crashError struct{ signal syscall.Signal }

func (e *crashError) Error() string { return "crash with " + signalName(e.signal) }

// New builds a Demo from cfg. It starts nothing.
func New(cfg config, d deps) (*Demo, error) {
	if d.stdout == nil || d.stderr == nil {
		return nil, errors.New("demo: stdout and stderr are required")
	}
	if d.now == nil {
		d.now = time.Now
	}
	k := newKnobs(initialSettings(cfg))
	demo := &Demo{
		cfg:      cfg,
		now:      d.now,
		listener: d.listener,
		knobs:    k,
		stdout:   newStream("stdout", cfg.instance, d.stdout),
		stderr:   newStream("stderr", cfg.instance, d.stderr),
		memory:   &memory{},
		burner:   &burner{knobs: k},
		exits:    make(chan exitRequest, 1),
	}
	demo.memory.target.Store(cfg.memory)
	if cfg.volumeDir != "" {
		demo.volume = newVolume(cfg.volumeDir, cfg.instance)
	}
	return demo, nil
}

// Run serves until ctx ends (a graceful stop: it returns nil) or the demo
// is told to exit (it returns an *exitError or a *crashError). It returns
// only after every goroutine it started has ended.
func (d *Demo) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("demo: Run called twice")
	}
	defer d.Close()
	start := d.now()
	d.knobs.update(func(s *settings) { anchorSettings(s, d.cfg, start) })

	ln := d.listener
	if ln == nil && d.cfg.listen != "" {
		var err error
		if ln, err = net.Listen("tcp", d.cfg.listen); err != nil {
			return fmt.Errorf("listen on %s: %w", d.cfg.listen, err)
		}
	}
	d.listener = ln
	if err := d.memory.resize(ctx, d.cfg.memory); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while still starting
		}
		return fmt.Errorf("hold %d bytes of memory: %w", d.cfg.memory, err)
	}
	d.announce(ln)
	if d.cfg.logOnce != "" {
		d.stdout.text(d.cfg.logOnce)
	}

	// Workers outlive ctx: they keep going through the shutdown delay.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var workers sync.WaitGroup
	workers.Go(func() { d.stdout.pace(workCtx, d.knobs, func(s settings) float64 { return s.logRate }) })
	workers.Go(func() { d.stderr.pace(workCtx, d.knobs, func(s settings) float64 { return s.stderrRate }) })
	workers.Go(func() { d.burner.run(workCtx) })
	if d.volume != nil {
		workers.Go(func() { d.volume.run(workCtx, d.knobs, d.cfg.volumeWrite, d.stderr) })
	}

	var srv *http.Server
	serveErr := make(chan error, 1)
	if ln != nil {
		srv = d.newServer()
		d.served.Store(true)
		workers.Go(func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		})
	}

	stopped := d.wait(ctx, serveErr)

	d.knobs.update(func(s *settings) { s.ready = false })
	var result error
	switch stopped := stopped.(type) {
	case nil:
		d.drain(srv, shutdownTimeout)
		if set, _ := d.knobs.get(); set.shutdownDelay > 0 {
			d.stderr.printf("shutdown delay: waiting %s before exiting", set.shutdownDelay)
			time.Sleep(set.shutdownDelay)
		}
		d.stderr.printf("shutdown complete")
	case *exitError:
		d.stderr.printf("exiting with code %d", stopped.code)
		d.drain(srv, exitTimeout)
		result = stopped
	case *crashError:
		d.stderr.printf("crashing with signal %s", signalName(stopped.signal))
		d.drain(srv, exitTimeout)
		result = stopped
	default:
		d.drain(srv, exitTimeout)
		result = fmt.Errorf("serve http: %w", stopped)
	}
	stopWork()
	workers.Wait()
	return result
}

// wait blocks until the demo should stop: nil when ctx ends, an
// *exitError or *crashError when asked to exit, or the server's error.
func (d *Demo) wait(ctx context.Context, serveErr <-chan error) error {
	for {
		set, changed := d.knobs.get()
		if err, done := d.waitOnce(ctx, serveErr, set, changed); done {
			return err
		}
	}
}

// waitOnce waits for one of wait's reasons, or for the knobs to change
// (done is false then, and wait looks again at the exit schedule).
func (d *Demo) waitOnce(ctx context.Context, serveErr <-chan error, set settings, changed <-chan struct{}) (err error, done bool) {
	var fire <-chan time.Time
	if !set.exitAt.IsZero() {
		t := time.NewTimer(set.exitAt.Sub(d.now()))
		defer t.Stop()
		fire = t.C
	}
	select {
	case <-ctx.Done():
		return nil, true
	case req := <-d.exits:
		return req.err(), true
	case <-fire:
		return exitRequest{code: set.exitCode, signal: set.crashSignal}.err(), true
	case err := <-serveErr:
		return err, true
	case <-changed:
		return nil, false
	}
}

func (r exitRequest) err() error {
	if r.signal != 0 {
		return &crashError{signal: r.signal}
	}
	return &exitError{code: r.code}
}

// requestExit asks Run to exit; a second request while one is pending is
// dropped, since the process is leaving anyway.
func (d *Demo) requestExit(r exitRequest) {
	select {
	case d.exits <- r:
	default:
	}
}

// drain stops accepting connections and waits up to timeout for requests
// in flight to finish, then closes what is left.
func (d *Demo) drain(srv *http.Server, timeout time.Duration) {
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		d.stderr.printf("http shutdown: %v", err)
		srv.Close()
	}
	d.handlers.Wait()
}

// announce prints the start-up line: the instance, the address and the
// knobs that differ from their defaults.
func (d *Demo) announce(ln net.Listener) {
	where := "running without HTTP"
	if ln != nil {
		where = "listening on " + ln.Addr().String()
	}
	line := fmt.Sprintf("opshub-demo %s %s", d.cfg.instance, where)
	if knobs := d.cfg.activeKnobs(); len(knobs) > 0 {
		line += " (" + strings.Join(knobs, " ") + ")"
	}
	d.stdout.text(line)
}

// activeKnobs lists the knobs set away from their defaults, as flags.
func (c config) activeKnobs() []string {
	var out []string
	add := func(set bool, name string, v any) {
		if set {
			out = append(out, fmt.Sprintf("%s=%v", name, v))
		}
	}
	add(c.unhealthy, "unhealthy", true)
	add(c.readyAfter > 0, "ready-after", c.readyAfter)
	add(c.logRate > 0, "log-rate", c.logRate)
	add(c.stderrRate > 0, "stderr-rate", c.stderrRate)
	add(c.logSize > 0, "log-size", formatSize(c.logSize))
	add(c.cpu > 0, "cpu", c.cpu)
	add(c.memory > 0, "memory", formatSize(c.memory))
	add(c.volumeDir != "" && (c.volumeWrite > 0 || c.volumeRate > 0), "volume-dir", c.volumeDir)
	add(c.volumeWrite > 0, "volume-write", formatSize(c.volumeWrite))
	add(c.volumeRate > 0, "volume-rate", formatSize(c.volumeRate)+"/s")
	add(c.exitAfter > 0, "exit-after", c.exitAfter)
	add(c.exitAfter > 0 || c.exitCode != 0, "exit-code", c.exitCode)
	add(c.crashSignal != 0, "crash-signal", signalName(c.crashSignal))
	add(c.shutdownDelay > 0, "shutdown-delay", c.shutdownDelay)
	add(c.ignoreSIGTERM, "ignore-sigterm", true)
	return out
}

// onSignal reports a termination signal and says whether to shut down.
func (d *Demo) onSignal(sig os.Signal) bool {
	set, _ := d.knobs.get()
	if sig == syscall.SIGTERM && set.ignoreSIGTERM {
		d.stderr.printf("received SIGTERM, ignoring it (ignore-sigterm)")
		return false
	}
	d.stderr.printf("received %s, shutting down", signalName(sig))
	return true
}

func (d *Demo) volumeWritten() int64 {
	if d.volume == nil {
		return 0
	}
	return d.volume.written.Load()
}

// Close releases what the demo holds: memory, the volume file, and a
// listener that was never served. It is safe to call more than once; Run
// calls it on its way out.
func (d *Demo) Close() error {
	var err error
	d.closeOnce.Do(func() {
		if !d.served.Load() && d.listener != nil {
			err = d.listener.Close()
		}
		d.memory.resize(context.Background(), 0)
		if d.volume != nil {
			err = errors.Join(err, d.volume.close())
		}
	})
	return err
}
