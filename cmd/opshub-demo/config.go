package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Limits shared by flags and control requests, so that a typo cannot make
// the demo write terabytes or spin a thousand goroutines.
const (
	maxLineRate = 1_000_000 // lines per second, per stream
	maxLogSize  = 64 << 20  // bytes per generated line
	maxCPU      = 1024      // cores
)

// config is what the command line and the environment say. The live subset
// seeds the knobs; the rest is fixed for the life of the process.
type config struct {
	listen   string // empty: no HTTP listener
	instance string
	service  string
	project  string
	greeting string

	unhealthy  bool
	readyAfter time.Duration

	logRate    float64
	stderrRate float64
	logSize    int64
	logOnce    string
	accessLog  bool

	cpu    float64
	memory int64

	volumeDir   string
	volumeWrite int64
	volumeRate  int64

	exitAfter     time.Duration
	exitCode      int
	crashSignal   syscall.Signal
	shutdownDelay time.Duration
	ignoreSIGTERM bool
}

// flagValues are the raw flags, before the environment fallbacks that are
// not DEMO_* variables ($PORT, $OPSHUB_INSTANCE, $GREETING, …) are applied.
type flagValues struct {
	config
	noHTTP      bool
	crashSignal string
}

func newFlagSet(v *flagValues) *flag.FlagSet {
	fs := flag.NewFlagSet("opshub-demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	fs.StringVar(&v.listen, "listen", "", "HTTP listen `address` (default 127.0.0.1:$PORT, else 127.0.0.1:8080)")
	fs.BoolVar(&v.noHTTP, "no-http", false, "with neither --listen nor $PORT, run without an HTTP listener instead of on 127.0.0.1:8080")
	fs.StringVar(&v.instance, "instance", "", "instance `name` (default $OPSHUB_INSTANCE, else the host name)")
	fs.StringVar(&v.greeting, "greeting", "", "greeting in the reply to / (live; default $GREETING, else \"hi\")")

	fs.BoolVar(&v.unhealthy, "unhealthy", false, "answer /healthz with 500 (live: healthy=false)")
	fs.DurationVar(&v.readyAfter, "ready-after", 0, "answer /ready with 503 for this long after start (live: ready=true|false, ready-after=)")

	fs.Float64Var(&v.logRate, "log-rate", 0, "numbered lines per second on stdout (live)")
	fs.Float64Var(&v.stderrRate, "stderr-rate", 0, "numbered lines per second on stderr (live)")
	fs.Var(sizeValue{p: &v.logSize}, "log-size", "`bytes` per numbered line, newline excluded; 0 or less than the\n\"seq=N instance=I stream=S\" header leaves the header alone (live)")
	fs.StringVar(&v.logOnce, "log-once", "", "print this `text` once on stdout at start")
	fs.BoolVar(&v.accessLog, "access-log", false, "print a line per HTTP request on stdout: method, path, status, duration")

	fs.Float64Var(&v.cpu, "cpu", 0, "`cores` to keep busy, e.g. 0.5, counted in the CPU time the burner gets (live)")
	fs.Var(sizeValue{p: &v.memory}, "memory", "`bytes` to allocate, touch and hold, e.g. 256Mi (live: grows or frees)")

	fs.StringVar(&v.volumeDir, "volume-dir", "", "`directory` to write into (default the first $OPSHUB_VOLUME_* by name)")
	fs.Var(sizeValue{p: &v.volumeWrite}, "volume-write", "`bytes` to write into the volume directory at start, in 1 MiB chunks")
	fs.Var(sizeValue{p: &v.volumeRate, per: true}, "volume-rate", "`bytes` per second to keep appending to the volume, e.g. 1Mi (live)")

	fs.DurationVar(&v.exitAfter, "exit-after", 0, "exit by itself after this long, printing \"exiting with code N\" on stderr (live)")
	fs.IntVar(&v.exitCode, "exit-code", 0, "exit `code` for --exit-after (live)")
	fs.StringVar(&v.crashSignal, "crash-signal", "", "at --exit-after, kill the process with this `signal` instead, e.g. SIGABRT,\nSIGSEGV or SIGKILL (live)")
	fs.DurationVar(&v.shutdownDelay, "shutdown-delay", 0, "after SIGTERM and draining HTTP, wait this long before exiting (live)")
	fs.BoolVar(&v.ignoreSIGTERM, "ignore-sigterm", false, "log SIGTERM and carry on (live)")
	return fs
}

// envName is the environment variable that sets flag name.
func envName(flagName string) string {
	return "DEMO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags over DEMO_* variables over defaults, then applies
// the opshub environment ($PORT, $OPSHUB_*, $GREETING) and validates the
// result, reporting every problem at once. --help returns flag.ErrHelp.
func parseConfig(args, environ []string) (config, error) {
	env := envMap(environ)
	var v flagValues
	fs := newFlagSet(&v)

	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if val, ok := env[name]; ok {
			if err := fs.Set(f.Name, val); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, val, err))
			}
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		errs = append(errs, err)
	} else if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}

	c := v.config
	if c.listen == "" {
		if port := env["PORT"]; port != "" {
			c.listen = "127.0.0.1:" + port
		} else if !v.noHTTP {
			c.listen = "127.0.0.1:8080"
		}
	}
	c.instance = firstNonEmpty(c.instance, env["OPSHUB_INSTANCE"], hostname())
	c.greeting = firstNonEmpty(c.greeting, env["GREETING"], "hi")
	c.service, c.project = env["OPSHUB_SERVICE"], env["OPSHUB_PROJECT"]
	if c.volumeDir == "" {
		c.volumeDir = firstVolume(env)
	}
	sig, err := parseSignal(v.crashSignal)
	if err != nil {
		errs = append(errs, fmt.Errorf("crash-signal: %w", err))
	}
	c.crashSignal = sig

	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
}

func (c config) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkLineRate("log-rate", c.logRate))
	add(checkLineRate("stderr-rate", c.stderrRate))
	add(checkLogSize("log-size", c.logSize))
	add(checkCPU("cpu", c.cpu))
	add(checkDuration("ready-after", c.readyAfter))
	add(checkDuration("exit-after", c.exitAfter))
	add(checkDuration("shutdown-delay", c.shutdownDelay))
	add(checkExitCode("exit-code", c.exitCode))
	if (c.volumeWrite > 0 || c.volumeRate > 0) && c.volumeDir == "" {
		errs = append(errs, errors.New("volume-write and volume-rate need --volume-dir or an OPSHUB_VOLUME_* variable"))
	}
	return errs
}

func checkLineRate(name string, r float64) error {
	if math.IsNaN(r) || r < 0 || r > maxLineRate {
		return fmt.Errorf("%s: %v lines per second is outside 0 to %d", name, r, maxLineRate)
	}
	return nil
}

func checkLogSize(name string, n int64) error {
	if n > maxLogSize {
		return fmt.Errorf("%s: %d bytes is more than %s", name, n, formatSize(maxLogSize))
	}
	return nil
}

func checkCPU(name string, cores float64) error {
	if math.IsNaN(cores) || cores < 0 || cores > maxCPU {
		return fmt.Errorf("%s: %v cores is outside 0 to %d", name, cores, maxCPU)
	}
	return nil
}

func checkDuration(name string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: negative duration %s", name, d)
	}
	return nil
}

func checkExitCode(name string, code int) error {
	if code < 0 || code > 255 {
		return fmt.Errorf("%s: %d is outside 0 to 255", name, code)
	}
	return nil
}

// printUsage writes the --help text.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: opshub-demo [flags]

opshub-demo is a small HTTP service that provokes, on demand, everything opshub
watches: log lines at a steady rate, Prometheus metrics, passing or failing
probes, CPU burn, held memory, a growing volume, exits, crashes by signal, and
slow or refused shutdowns.

Endpoints:
  GET /          "hello from <instance> (<greeting>)", header X-Opshub-Instance
  GET /healthz   200 "ok", or 500 when unhealthy
  GET /ready     200 when ready, 503 before --ready-after has passed or after ready=false
  GET /metrics   Prometheus text exposition (opshub_demo_*)
  GET|POST /control?name=value&...
                 change live knobs and act; replies with the settings as JSON

Every flag can also be set with the environment variable DEMO_<FLAG> (upper
case, "-" as "_", e.g. DEMO_LOG_RATE=100); a flag wins over the environment.
Sizes take Ki, Mi, Gi, Ti (or k, M, G, T) suffixes: 256Mi, 1Gi, 1000.
Flags marked live can be changed through /control under the same name
(log-rate=, logRate= and lograte= are the same); the JSON reply uses the same
names. Numbered lines look like "seq=<n> instance=<name> stream=<stdout|stderr>"
padded with fixed text to --log-size, numbered from 1 on each stream.

Flags:
`)
	fs := newFlagSet(&flagValues{})
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Control parameters that act, or differ from their flag:
  ready=true|false               switch readiness now (cancels a pending ready-after)
  ready-after=DURATION           be unready for this long from now
  healthy=true|false             the opposite of --unhealthy
  exit-after=DURATION            exit (or crash) this long from now; 0 cancels
  memory=BYTES                   allocate or free until this much is held, then reply
  volume-write=BYTES             append this much to the volume now, then reply
  log=TEXT [stream=stderr]       print TEXT as it is
  lines=N [size=BYTES] [stream=] print N numbered lines now (size defaults to log-size)
  exit=N                         exit with code N after replying
  crash=SIGNAL                   kill the process with SIGNAL after replying

Signals: SIGTERM (and SIGINT) print "received SIGTERM, shutting down" on
stderr, stop accepting, finish requests in flight, wait --shutdown-delay and
exit 0. With --ignore-sigterm, SIGTERM is only reported.
`)
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// firstVolume is the directory of the first OPSHUB_VOLUME_* variable by name.
func firstVolume(env map[string]string) string {
	var names []string
	for k, v := range env {
		if strings.HasPrefix(k, "OPSHUB_VOLUME_") && v != "" {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return env[names[0]]
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
