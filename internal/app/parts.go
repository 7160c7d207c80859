package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// partGroup runs the long-lived parts of a command (runtime, collector,
// alerting, API server, …) together: the first to fail stops the others,
// and wait returns once all have ended, with every failure. A part with
// nothing to do may return nil at once and the others carry on, unless
// the group was made with endsWithAnyPart.
type partGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	// endsWithAnyPart makes any part's end, failure or not, stop the
	// others (the controller is done when any of its parts is).
	endsWithAnyPart bool

	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func newPartGroup(ctx context.Context) *partGroup {
	g := &partGroup{}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

func (g *partGroup) start(name string, run func(context.Context) error) {
	g.wg.Go(func() {
		err := run(g.ctx)
		if err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
			g.mu.Unlock()
		}
		if err != nil || g.endsWithAnyPart {
			g.cancel()
		}
	})
}

// wait blocks until the group is stopped (a part failed, or the parent
// context ended) and every part has returned.
func (g *partGroup) wait() error {
	<-g.ctx.Done()
	g.wg.Wait()
	g.cancel()
	return errors.Join(g.errs...)
}
