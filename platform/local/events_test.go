package local

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// TestSubscribeDropsOldest: a subscriber that does not read loses the oldest
// events, publishing never blocks, and the loss is counted.
func TestSubscribeDropsOldest(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := New(Options{DataDir: t.TempDir(), Registerer: reg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := r.Subscribe(ctx)
	fastCtx, fastCancel := context.WithCancel(context.Background())
	fast := r.Subscribe(fastCtx)

	const total = platform.SubscriberBuffer + 44
	published := make(chan struct{})
	received := make(chan int)
	go func() {
		n := 0
		for range fast {
			n++
		}
		received <- n
	}()
	go func() {
		for i := range total {
			r.events.Publish(model.InstanceEvent{Kind: model.InstanceStarted, Restarts: i})
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on a subscriber that does not read")
	}

	for want := total - platform.SubscriberBuffer; want < total; want++ {
		ev := <-slow
		if ev.Restarts != want {
			t.Fatalf("slow subscriber got event %d, want %d (the oldest should be dropped)", ev.Restarts, want)
		}
	}
	select {
	case ev := <-slow:
		t.Fatalf("unexpected extra event %d", ev.Restarts)
	default:
	}
	if got := gatherValue(t, reg, "opshub_local_events_dropped_total", nil); got < total-platform.SubscriberBuffer {
		t.Errorf("dropped counter %v, want at least %d", got, total-platform.SubscriberBuffer)
	}

	fastCancel()
	if n := <-received; n > total {
		t.Errorf("fast subscriber got %d events, more than published", n)
	}
	cancel()
	if _, open := <-slow; open {
		t.Error("channel not closed after its context ended")
	}
}

// TestSubscribeClosedContext: subscribing with an ended context gives a
// closed channel.
func TestSubscribeClosedContext(t *testing.T) {
	r, err := New(Options{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := r.Subscribe(ctx)
	select {
	case _, open := <-ch:
		if open {
			t.Fatal("got an event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed")
	}
}
