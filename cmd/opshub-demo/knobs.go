package main

import (
	"sync"
	"syscall"
	"time"
)

// settings are the knobs that can change while the demo runs. Zero times
// mean "not scheduled". The memory knob is not here: memory owns its target
// because changing it is synchronous.
type settings struct {
	greeting string
	healthy  bool

	ready   bool      // the ready switch
	readyAt time.Time // unready before this time even when the switch is on

	logRate    float64 // numbered stdout lines per second
	stderrRate float64 // numbered stderr lines per second
	logSize    int64   // bytes per numbered line, newline excluded

	cpu        float64 // cores kept busy
	volumeRate int64   // bytes per second appended to the volume

	exitAt        time.Time      // when to exit, or crash, by itself
	exitCode      int            // the code for exitAt
	crashSignal   syscall.Signal // when set, exitAt crashes with it instead
	shutdownDelay time.Duration  // pause after draining HTTP on SIGTERM
	ignoreSIGTERM bool
}

// isReady says whether /ready answers 200 at now.
func (s settings) isReady(now time.Time) bool {
	return s.ready && !now.Before(s.readyAt)
}

// initialSettings are the knobs as the configuration sets them. The times
// (--ready-after, --exit-after) are anchored by anchorSettings when Run starts.
func initialSettings(c config) settings {
	s := settings{
		greeting:      c.greeting,
		healthy:       !c.unhealthy,
		ready:         true,
		logRate:       c.logRate,
		stderrRate:    c.stderrRate,
		logSize:       c.logSize,
		cpu:           c.cpu,
		volumeRate:    c.volumeRate,
		exitCode:      c.exitCode,
		crashSignal:   c.crashSignal,
		shutdownDelay: c.shutdownDelay,
		ignoreSIGTERM: c.ignoreSIGTERM,
	}
	return s
}

// anchorSettings schedules --ready-after and --exit-after from start.
func anchorSettings(s *settings, c config, start time.Time) {
	if c.readyAfter > 0 {
		s.readyAt = start.Add(c.readyAfter)
	}
	if c.exitAfter > 0 {
		s.exitAt = start.Add(c.exitAfter)
	}
}

// knobs guards the live settings. Readers take a copy together with a
// channel that is closed at the next change, so loops can wait for one.
type knobs struct {
	mu      sync.Mutex
	s       settings
	changed chan struct{}
}

func newKnobs(s settings) *knobs {
	return &knobs{s: s, changed: make(chan struct{})}
}

// get returns the current settings and a channel closed when they change.
func (k *knobs) get() (settings, <-chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.s, k.changed
}

// update changes the settings in f and wakes everyone waiting for a change.
func (k *knobs) update(f func(*settings)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f(&k.s)
	close(k.changed)
	k.changed = make(chan struct{})
}
