package platform

import (
	"context"
	"sync"

	"github.com/opshub/opshub/model"
)

// SubscriberBuffer is how many events a subscriber may fall behind before
// the oldest are dropped.
const SubscriberBuffer = 256

// Broadcaster fans instance events out to subscribers with the semantics
// Platform.Subscribe promises: publishing never blocks, a subscriber whose
// buffer is full loses its oldest event (and the loss is counted), and a
// subscriber's channel is closed when its context ends. Platform
// implementations embed one.
type Broadcaster struct {
	buffer  int
	dropped func() // counts one dropped event

	mu   sync.Mutex
	subs map[chan model.InstanceEvent]struct{}
}

// NewBroadcaster returns a broadcaster with buffer events per subscriber;
// dropped (may be nil) is called once for every event a subscriber loses.
func NewBroadcaster(buffer int, dropped func()) *Broadcaster {
	if dropped == nil {
		dropped = func() {}
	}
	return &Broadcaster{buffer: buffer, dropped: dropped, subs: map[chan model.InstanceEvent]struct{}{}}
}

// Subscribe returns a channel of every event published from now until ctx
// ends; then the channel is closed.
func (b *Broadcaster) Subscribe(ctx context.Context) <-chan model.InstanceEvent {
	ch := make(chan model.InstanceEvent, b.buffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch) // under mu: Publish never sends on a closed channel
		b.mu.Unlock()
	})
	return ch
}

// Publish hands ev to every subscriber without waiting for any of them.
func (b *Broadcaster) Publish(ev model.InstanceEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		for sent := false; !sent; {
			select {
			case ch <- ev:
				sent = true
			default:
				// Full: make room by dropping the oldest. The subscriber may
				// have taken one meanwhile; then the next send succeeds anyway.
				select {
				case <-ch:
					b.dropped()
				default:
				}
			}
		}
	}
}
