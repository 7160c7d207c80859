package main

import (
	"context"
	"testing"
)

func TestMemoryResize(t *testing.T) {
	var m memory
	steps := []struct {
		name   string
		target int64
	}{
		{"grow to whole chunks", 8 << 20},
		{"grow to a partial chunk", 10<<20 + 5},
		{"shrink inside a chunk", 10<<20 + 1},
		{"shrink across chunks", 3<<20 + 100},
		{"free everything", 0},
		{"grow again", 1 << 20},
	}
	for _, st := range steps {
		if err := m.resize(context.Background(), st.target); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var sum int64
		for _, c := range m.chunks {
			sum += int64(len(c))
			if len(c) > memoryChunk {
				t.Errorf("%s: chunk of %d bytes", st.name, len(c))
			}
		}
		if got := m.held.Load(); got != st.target || sum != st.target || m.target.Load() != st.target {
			t.Errorf("%s: held %d, chunks %d, target %d; want %d", st.name, got, sum, m.target.Load(), st.target)
		}
	}
}

func TestMemoryResizeStopsWithTheContext(t *testing.T) {
	var m memory
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.resize(ctx, 64<<20); err == nil {
		t.Error("resize with a cancelled context succeeded")
	}
	if m.held.Load() != 0 {
		t.Errorf("held %d bytes after a cancelled resize", m.held.Load())
	}
}
