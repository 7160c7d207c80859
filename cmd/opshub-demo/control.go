package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxControlBytes bounds lines × size of one lines= request.
const maxControlBytes = 4 << 30

// A controlRequest is one parsed /control request: changes to the live
// settings, and actions to perform once they are applied.
type controlRequest struct {
	changes []func(s *settings, now time.Time)

	memory      *int64 // new memory target
	log         *string
	lines       *int64
	size        *int64 // bytes per line for lines=, default the log-size knob
	stream      string // "stdout" or "stderr", for log= and lines=
	volumeWrite int64
	needsVolume bool
	exit        *exitRequest
}

func (c *controlRequest) change(f func(s *settings, now time.Time)) {
	c.changes = append(c.changes, f)
}

// controlError names the parameter that was wrong.
type controlError struct {
	field string
	err   error
}

func (e *controlError) Error() string { return e.field + ": " + e.err.Error() }
func (e *controlError) Unwrap() error { return e.err }

func toAPIError(err error) apiError {
	var ce *controlError
	if errors.As(err, &ce) {
		return apiError{Error: ce.err.Error(), Field: ce.field}
	}
	return apiError{Error: err.Error()}
}

// controlName folds a parameter name so that "log-rate", "log_rate",
// "logRate" and "lograte" are the same.
func controlName(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
}

// controlParams are the /control parameters by folded name. Each parses
// its value into the request without applying anything.
var controlParams = map[string]func(c *controlRequest, v string) error{
	"greeting": func(c *controlRequest, v string) error {
		c.change(func(s *settings, _ time.Time) { s.greeting = v })
		return nil
	},
	"healthy":   boolParam(func(s *settings, b bool) { s.healthy = b }),
	"unhealthy": boolParam(func(s *settings, b bool) { s.healthy = !b }),
	"ready": boolParam(func(s *settings, b bool) {
		s.ready, s.readyAt = b, time.Time{}
	}),
	"readyafter": func(c *controlRequest, v string) error {
		d, err := parseDuration(v)
		c.change(func(s *settings, now time.Time) { s.ready, s.readyAt = true, now.Add(d) })
		return err
	},
	"lograte":    param(parseLineRate, func(s *settings, r float64) { s.logRate = r }),
	"stderrrate": param(parseLineRate, func(s *settings, r float64) { s.stderrRate = r }),
	"logsize":    param(parseLogSize, func(s *settings, n int64) { s.logSize = n }),
	"cpu": func(c *controlRequest, v string) error {
		cores, err := strconv.ParseFloat(v, 64)
		if err == nil {
			err = checkCPU("cpu", cores)
		}
		c.change(func(s *settings, _ time.Time) { s.cpu = cores })
		return unprefixed(err)
	},
	"memory": func(c *controlRequest, v string) error {
		n, err := parseSize(v)
		c.memory = &n
		return err
	},
	"volumerate": func(c *controlRequest, v string) error {
		n, err := parseRate(v)
		c.needsVolume = c.needsVolume || n > 0
		c.change(func(s *settings, _ time.Time) { s.volumeRate = n })
		return err
	},
	"volumewrite": func(c *controlRequest, v string) error {
		n, err := parseSize(v)
		c.volumeWrite, c.needsVolume = n, true
		return err
	},
	"exitafter": func(c *controlRequest, v string) error {
		d, err := parseDuration(v)
		c.change(func(s *settings, now time.Time) {
			s.exitAt = time.Time{}
			if d > 0 {
				s.exitAt = now.Add(d)
			}
		})
		return err
	},
	"exitcode":      param(parseExitCode, func(s *settings, code int) { s.exitCode = code }),
	"crashsignal":   param(parseSignal, func(s *settings, sig syscall.Signal) { s.crashSignal = sig }),
	"shutdowndelay": param(parseDuration, func(s *settings, d time.Duration) { s.shutdownDelay = d }),
	"ignoresigterm": boolParam(func(s *settings, b bool) { s.ignoreSIGTERM = b }),
	"log": func(c *controlRequest, v string) error {
		c.log = &v
		return nil
	},
	"lines": func(c *controlRequest, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n < 0 {
			err = errors.New("negative")
		}
		c.lines = &n
		return unprefixed(err)
	},
	"size": func(c *controlRequest, v string) error {
		n, err := parseLogSize(v)
		c.size = &n
		return err
	},
	"stream": func(c *controlRequest, v string) error {
		if v != "stdout" && v != "stderr" {
			return errors.New(`want "stdout" or "stderr"`)
		}
		c.stream = v
		return nil
	},
	"exit": func(c *controlRequest, v string) error {
		code, err := parseExitCode(v)
		c.exit = &exitRequest{code: code}
		return err
	},
	"crash": func(c *controlRequest, v string) error {
		sig, err := parseSignal(v)
		if err == nil && sig == 0 {
			err = errors.New("want a signal name, e.g. SIGABRT")
		}
		c.exit = &exitRequest{signal: sig}
		return err
	},
}

// parseControl reads form into a request, checking every value. Parameters
// are taken in name order; the first bad one is reported.
func parseControl(form url.Values) (*controlRequest, error) {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := &controlRequest{stream: "stdout"}
	for _, k := range keys {
		parse, ok := controlParams[controlName(k)]
		if !ok {
			return nil, &controlError{k, fmt.Errorf("unknown parameter (known: %s)", strings.Join(knownControlParams(), ", "))}
		}
		vs := form[k]
		if err := parse(c, strings.TrimSpace(vs[len(vs)-1])); err != nil {
			return nil, &controlError{k, err}
		}
	}
	if c.size != nil && c.lines == nil {
		return nil, &controlError{"size", errors.New("size goes with lines= (the knob is log-size)")}
	}
	if c.lines != nil {
		size := int64(1)
		if c.size != nil {
			size = max(*c.size, 1)
		}
		if *c.lines > maxControlBytes/size {
			return nil, &controlError{"lines", fmt.Errorf("lines × size is more than %s", formatSize(maxControlBytes))}
		}
	}
	return c, nil
}

func knownControlParams() []string {
	names := make([]string, 0, len(controlParams))
	for name := range controlParams {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// checkControl checks what depends on the configuration.
func (d *Demo) checkControl(c *controlRequest) error {
	if c.needsVolume && d.volume == nil {
		return &controlError{"volume", errors.New("no volume directory: start with --volume-dir or an OPSHUB_VOLUME_* variable")}
	}
	return nil
}

// applyControl applies the changes, then performs the actions in a fixed
// order: memory, log=, lines=, volume-write=.
func (d *Demo) applyControl(ctx context.Context, c *controlRequest) error {
	if len(c.changes) > 0 {
		now := d.now()
		d.knobs.update(func(s *settings) {
			for _, f := range c.changes {
				f(s, now)
			}
		})
	}
	if c.memory != nil {
		if err := d.memory.resize(ctx, *c.memory); err != nil {
			return &controlError{"memory", err}
		}
	}
	out := d.stdout
	if c.stream == "stderr" {
		out = d.stderr
	}
	if c.log != nil {
		out.text(*c.log)
	}
	if c.lines != nil {
		size := c.size
		if size == nil {
			set, _ := d.knobs.get()
			size = &set.logSize
		}
		out.emit(*c.lines, *size)
	}
	if c.volumeWrite > 0 {
		if err := d.volume.write(ctx, c.volumeWrite); err != nil {
			return &controlError{"volume-write", err}
		}
	}
	return nil
}

// status is the JSON reply of /control. Keys are the control parameter
// names, so a reply's values can be sent back as they are; memoryHeld,
// volumeWritten and logLines are read-only. readyAfter and exitAfter are
// the time left, if any.
type status struct {
	Instance      string            `json:"instance"`
	Service       string            `json:"service,omitempty"`
	Project       string            `json:"project,omitempty"`
	Listen        string            `json:"listen,omitempty"`
	Greeting      string            `json:"greeting"`
	Healthy       bool              `json:"healthy"`
	Ready         bool              `json:"ready"`
	ReadyAfter    string            `json:"readyAfter,omitempty"`
	LogRate       float64           `json:"logRate"`
	StderrRate    float64           `json:"stderrRate"`
	LogSize       int64             `json:"logSize"`
	LogLines      map[string]uint64 `json:"logLines"`
	CPU           float64           `json:"cpu"`
	Memory        int64             `json:"memory"`
	MemoryHeld    int64             `json:"memoryHeld"`
	VolumeDir     string            `json:"volumeDir,omitempty"`
	VolumeRate    int64             `json:"volumeRate"`
	VolumeWritten int64             `json:"volumeWritten"`
	ExitAfter     string            `json:"exitAfter,omitempty"`
	ExitCode      int               `json:"exitCode"`
	CrashSignal   string            `json:"crashSignal,omitempty"`
	ShutdownDelay string            `json:"shutdownDelay"`
	IgnoreSIGTERM bool              `json:"ignoreSigterm"`
}

func (d *Demo) status() status {
	set, _ := d.knobs.get()
	now := d.now()
	st := status{
		Instance:      d.cfg.instance,
		Service:       d.cfg.service,
		Project:       d.cfg.project,
		Greeting:      set.greeting,
		Healthy:       set.healthy,
		Ready:         set.isReady(now),
		LogRate:       set.logRate,
		StderrRate:    set.stderrRate,
		LogSize:       set.logSize,
		LogLines:      map[string]uint64{"stdout": d.stdout.lines.Load(), "stderr": d.stderr.lines.Load()},
		CPU:           set.cpu,
		Memory:        d.memory.target.Load(),
		MemoryHeld:    d.memory.held.Load(),
		VolumeDir:     d.cfg.volumeDir,
		VolumeRate:    set.volumeRate,
		VolumeWritten: d.volumeWritten(),
		ExitCode:      set.exitCode,
		CrashSignal:   signalName(set.crashSignal),
		ShutdownDelay: set.shutdownDelay.String(),
		IgnoreSIGTERM: set.ignoreSIGTERM,
	}
	if d.listener != nil {
		st.Listen = d.listener.Addr().String()
	}
	if set.ready && now.Before(set.readyAt) {
		st.ReadyAfter = set.readyAt.Sub(now).String()
	}
	if !set.exitAt.IsZero() {
		st.ExitAfter = max(set.exitAt.Sub(now), 0).String()
	}
	return st
}

// param is the parser of a parameter that parse reads and set applies.
func param[T any](parse func(string) (T, error), set func(s *settings, v T)) func(c *controlRequest, v string) error {
	return func(c *controlRequest, v string) error {
		x, err := parse(v)
		c.change(func(s *settings, _ time.Time) { set(s, x) })
		return err
	}
}

func boolParam(set func(s *settings, b bool)) func(c *controlRequest, v string) error {
	return func(c *controlRequest, v string) error {
		b, err := strconv.ParseBool(v)
		c.change(func(s *settings, _ time.Time) { set(s, b) })
		return unprefixed(err)
	}
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil {
		err = checkDuration("duration", d)
	}
	return d, unprefixed(err)
}

func parseLineRate(v string) (float64, error) {
	r, err := strconv.ParseFloat(v, 64)
	if err == nil {
		err = checkLineRate("rate", r)
	}
	return r, unprefixed(err)
}

func parseLogSize(v string) (int64, error) {
	n, err := parseSize(v)
	if err == nil {
		err = checkLogSize("size", n)
	}
	return n, err
}

func parseExitCode(v string) (int, error) {
	code, err := strconv.Atoi(v)
	if err == nil {
		err = checkExitCode("code", code)
	}
	return code, unprefixed(err)
}

// unprefixed shortens strconv's errors ('strconv.ParseFloat: parsing "x":
// invalid syntax') to what a person needs ('"x": invalid syntax').
func unprefixed(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%q: %w", ne.Num, ne.Err)
	}
	return err
}
