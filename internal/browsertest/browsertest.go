// Package browsertest drives a real headless Chromium (Debian's chromium,
// through chromedp) for the tests that look at the web UI as a person
// does: the ui package's against `opshub run`, the end-to-end suite's
// against the controller.
package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opshub/opshub/internal/sinktest"
)

// Start starts Chromium with a 1280×800 viewport, stopped when the test
// ends, and returns the context its actions run in.
func Start(t *testing.T) context.Context {
	t.Helper()
	path := sinktest.Binary(t, "chromium", "install Debian's chromium (.ci/deps.d/ui.sh)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as the
	// context of that action: not one with Run's timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// Run runs actions in the page, within 30 s.
func Run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// Eval runs a JavaScript expression in the page and decodes its value.
func Eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// WaitJS polls a JavaScript condition in the page until it holds; the
// test fails when timeout passes first.
func WaitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, js string) {
	t.Helper()
	sinktest.WaitFor(t, timeout, what, func() bool { return Eval[bool](t, ctx, "!!("+js+")") })
}
