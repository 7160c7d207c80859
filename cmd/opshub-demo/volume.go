package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	volumeChunk   = 1 << 20  // bytes per write call
	volumeFileMax = 64 << 20 // bytes per file before the next one is started
	volumeTick    = 100 * time.Millisecond
)

// volume fills a directory with files named opshub-demo-<instance>-<n>.dat,
// so that opshub sees a volume grow. Files of one instance are appended to
// across restarts: a restarted instance carries on where it stopped, as an
// application writing to a persistent volume would.
type volume struct {
	dir     string
	prefix  string
	fileMax int64

	mu       sync.Mutex
	file     *os.File
	index    int   // number of the current file
	fileSize int64 // bytes in the current file
	chunk    []byte

	written atomic.Int64 // bytes this process wrote
}

func newVolume(dir, instance string) *volume {
	return &volume{
		dir:     dir,
		prefix:  "opshub-demo-" + safeName(instance) + "-",
		fileMax: volumeFileMax,
	}
}

// write appends n bytes in chunks of at most 1 MiB, starting a new file at
// fileMax. It stops early when ctx ends.
func (v *volume) write(ctx context.Context, n int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.chunk == nil {
		v.chunk = make([]byte, volumeChunk)
		for i := range v.chunk {
			v.chunk[i] = filler[i%len(filler)]
		}
	}
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if v.file == nil || v.fileSize >= v.fileMax {
			if err := v.next(); err != nil {
				return err
			}
			continue
		}
		k := min(n, volumeChunk, v.fileMax-v.fileSize)
		m, err := v.file.Write(v.chunk[:k])
		v.fileSize += int64(m)
		v.written.Add(int64(m))
		n -= int64(m)
		if err != nil {
			return fmt.Errorf("volume: write %s: %w", v.file.Name(), err)
		}
	}
	return nil
}

// next opens the file to append to: on first use the instance's last file
// in the directory, afterwards a new one.
func (v *volume) next() error {
	if v.file != nil {
		if err := v.file.Close(); err != nil {
			return fmt.Errorf("volume: close %s: %w", v.file.Name(), err)
		}
		v.file = nil
		v.index++
	} else {
		last, err := v.lastIndex()
		if err != nil {
			return err
		}
		v.index = max(last, 1)
	}
	name := filepath.Join(v.dir, fmt.Sprintf("%s%06d.dat", v.prefix, v.index))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("volume: %w", err)
	}
	v.file, v.fileSize = f, st.Size()
	return nil
}

// lastIndex is the highest file number this instance has in the directory,
// or 0.
func (v *volume) lastIndex() (int, error) {
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		return 0, fmt.Errorf("volume: %w", err)
	}
	last := 0
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), v.prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(num, ".dat")); err == nil && n > last {
			last = n
		}
	}
	return last, nil
}

// run writes initial bytes, then follows the volume-rate knob until ctx
// ends. Failures are reported on stderr once until writing works again, so
// that a full disk does not flood the logs.
func (v *volume) run(ctx context.Context, k *knobs, initial int64, stderr *stream) {
	failing := false
	report := func(err error) {
		switch {
		case err == nil:
			failing = false
		case errors.Is(err, context.Canceled):
		case !failing:
			failing = true
			stderr.printf("volume write failed: %v", err)
		}
	}
	if initial > 0 {
		report(v.write(ctx, initial))
	}
	paced(ctx, k, func(set settings) float64 { return float64(set.volumeRate) },
		func(float64) time.Duration { return volumeTick },
		func(n int64, _ settings) { report(v.write(ctx, n)) })
}

// close closes the current file; writing again opens it anew.
func (v *volume) close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.file == nil {
		return nil
	}
	err := v.file.Close()
	v.file = nil
	return err
}

// safeName keeps letters, digits, '.', '_' and '-' of an instance name, so
// that it can be part of a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}
