package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestDutyCycles(t *testing.T) {
	tests := []struct {
		cores float64
		want  []float64
	}{
		{0, nil},
		{0.5, []float64{0.5}},
		{1, []float64{1}},
		{2.5, []float64{1, 1, 0.5}},
		{3, []float64{1, 1, 1}},
	}
	for _, tt := range tests {
		if got := dutyCycles(tt.cores); !slices.Equal(got, tt.want) {
			t.Errorf("dutyCycles(%v) = %v, want %v", tt.cores, got, tt.want)
		}
	}
}

// TestBurnerStops checks that the burner follows changes and that run
// returns, with every spinning goroutine ended, when its context ends.
func TestBurnerStops(t *testing.T) {
	k := newKnobs(settings{cpu: 0.05})
	b := &burner{knobs: k}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.run(ctx)
	}()
	k.update(func(s *settings) { s.cpu = 1.02 })
	k.update(func(s *settings) { s.cpu = 0 })
	k.update(func(s *settings) { s.cpu = 0.01 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("burner did not stop")
	}
}

func TestSpinStops(t *testing.T) {
	for _, duty := range []float64{0, 0.3, 1} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			spin(ctx, duty, 10*time.Millisecond)
		}()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("spin at duty %v did not stop", duty)
		}
	}
}
