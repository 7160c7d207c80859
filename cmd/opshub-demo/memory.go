package main

import (
	"context"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// memoryChunk is the unit memory allocates and frees in.
const memoryChunk = 1 << 20

// memory holds the memory knob's worth of bytes, allocated and written to
// page by page so that it counts in the resident set and the cgroup's
// working set, not just in the address space.
type memory struct {
	mu     sync.Mutex
	chunks [][]byte

	target atomic.Int64 // what the knob asks for
	held   atomic.Int64 // what is allocated and touched
}

// resize grows or shrinks the held memory to target bytes. Freeing drops
// the references and returns the memory to the operating system at once.
// It stops early, with ctx's error, when ctx ends while growing.
func (m *memory) resize(ctx context.Context, target int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.target.Store(target)
	held := m.held.Load()
	if target < held {
		for held > target {
			last := m.chunks[len(m.chunks)-1]
			m.chunks[len(m.chunks)-1] = nil
			m.chunks = m.chunks[:len(m.chunks)-1]
			held -= int64(len(last))
		}
		m.held.Store(held)
		debug.FreeOSMemory()
	}
	page := os.Getpagesize()
	for held < target {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := make([]byte, min(memoryChunk, target-held))
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		m.chunks = append(m.chunks, b)
		held += int64(len(b))
		m.held.Store(held)
	}
	return nil
}
