package local

import (
	"context"
	"sync"

	"github.com/opshub/opshub/model"
)

// subscriberBuffer is how many events a subscriber may fall behind before
// the oldest are dropped.
const subscriberBuffer = 256

// eventHub fans instance events out to subscribers. Publishing never blocks:
// a subscriber whose buffer is full loses its oldest event, and the loss is
// counted.
type eventHub struct {
	buffer  int
	dropped func() // counts one dropped event

	mu   sync.Mutex
	subs map[chan model.InstanceEvent]struct{}
}

func newEventHub(buffer int, dropped func()) *eventHub {
	return &eventHub{buffer: buffer, dropped: dropped, subs: map[chan model.InstanceEvent]struct{}{}}
}

// subscribe returns a channel of every event published from now until ctx
// ends; then the channel is closed.
func (h *eventHub) subscribe(ctx context.Context) <-chan model.InstanceEvent {
	ch := make(chan model.InstanceEvent, h.buffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch) // under mu: publish never sends on a closed channel
		h.mu.Unlock()
	})
	return ch
}

// publish hands ev to every subscriber without waiting for any of them.
func (h *eventHub) publish(ev model.InstanceEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		for sent := false; !sent; {
			select {
			case ch <- ev:
				sent = true
			default:
				// Full: make room by dropping the oldest. The subscriber may
				// have taken one meanwhile; then the next send succeeds anyway.
				select {
				case <-ch:
					h.dropped()
				default:
				}
			}
		}
	}
}
