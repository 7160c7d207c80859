package kubernetes

import (
	"context"
	"sync"

	"github.com/opshub/opshub/model"
)

// subscriberBuffer is how many events a subscriber may fall behind before
// the oldest are dropped.
const subscriberBuffer = 256

// subscribers fans instance events out. Publishing never blocks a worker: a
// subscriber whose buffer is full loses its oldest event, and the loss is
// counted.
type subscribers struct {
	buffer  int
	dropped func()

	mu   sync.Mutex
	subs map[chan model.InstanceEvent]struct{}
}

func newSubscribers(buffer int, dropped func()) *subscribers {
	return &subscribers{buffer: buffer, dropped: dropped, subs: map[chan model.InstanceEvent]struct{}{}}
}

// subscribe returns a channel of every event published from now until ctx
// ends; then the channel is closed.
func (s *subscribers) subscribe(ctx context.Context) <-chan model.InstanceEvent {
	ch := make(chan model.InstanceEvent, s.buffer)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		close(ch) // under mu: publish never sends on a closed channel
		s.mu.Unlock()
	})
	return ch
}

// publish hands ev to every subscriber without waiting for any of them.
func (s *subscribers) publish(ev model.InstanceEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		for {
			select {
			case ch <- ev:
			default:
				// Full: drop the oldest to make room. The subscriber may
				// have taken one meanwhile; then the next send succeeds.
				select {
				case <-ch:
					s.dropped()
				default:
				}
				continue
			}
			break
		}
	}
}
