package ui_test

// The web UI as a person sees it: a real headless Chromium (Debian's
// chromium, driven by chromedp) against `opshub run` with the demo
// services. Screenshots go to the test's artifact directory
// (go test -artifacts ./ui writes them under _artifacts/).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/opshub/opshub/internal/browsertest"
	"github.com/opshub/opshub/internal/sinktest"
)

// binaries builds bin/opshub and bin/opshub-demo once, so the tests run
// the real binaries as a user does.
var binaries = sinktest.OpshubBinaries

// demo is `opshub run` with the demo services of examples/local.yaml.
type demo struct {
	api         string
	webhook     atomic.Int64 // notifications the webhook integration received
	start, stop func()
}

const (
	readToken  = "viewer-token-0123456789"
	adminToken = "admin-token-0123456789"
)

func startDemo(t *testing.T, withTokens bool) *demo {
	t.Helper()
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{api: sinktest.FreeAddr(t)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.webhook.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	tokens := ""
	if withTokens {
		tokens = fmt.Sprintf(`
  tokens:
    - {name: viewer, token: %s, scopes: [read]}
    - {name: admin, token: %s, scopes: [admin]}`, readToken, adminToken)
	}
	_, proxyPort, _ := strings.Cut(sinktest.FreeAddr(t), ":")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`dataDir: %[1]s/data
server:
  listen: %[2]s%[3]s
workloads:
  - name: web
    project: demo
    command: [%[4]s/opshub-demo, --listen, "127.0.0.1:${PORT}", --log-rate, "2", --stderr-rate, "0.2", --access-log]
    replicas: 2
    port: %[5]s
    # Each new instance stays ready 2 s before the next step, so that a
    # release's progress is on screen for a few seconds.
    strategy: {type: RollingUpdate, maxSurge: 1, maxUnavailable: 0, minReadySeconds: 2}
    resources: {cpu: 500m, memory: 256Mi}
    probes:
      startup: {http: {path: /healthz}, periodSeconds: 1, failureThreshold: 30}
      readiness: {http: {path: /ready}, periodSeconds: 1, failureThreshold: 1}
      liveness: {tcp: {}, periodSeconds: 5}
  - name: crashy
    project: demo
    command: [%[4]s/opshub-demo, --no-http, --log-once, "connecting to the database", --exit-after, 2s, --exit-code, "1"]
    restartPolicy: Always
  - name: hello-job
    project: jobs
    command: [/bin/sh, -c, "echo hello from ${OPSHUB_INSTANCE}; echo done >&2"]
    restartPolicy: Never
sinks:
  - {name: archive, type: file, path: %[1]s/archive.ndjson}
notifications:
  integrations:
    - {name: hook, type: webhook, url: %[6]s, events: [container.crash]}
`, dir, d.api, tokens, bin, proxyPort, hook.URL)
	path := filepath.Join(dir, "opshub.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "opshub.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			out, _ := os.ReadFile(logFile.Name())
			t.Logf("opshub output:\n%s", out)
		}
	})
	d.start = func() {
		cmd := exec.Command(filepath.Join(bin, "opshub"), "run", "-c", path)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		d.stop = func() {
			// SIGTERM, so that opshub stops its instances.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		poll(t, 30*time.Second, "opshub /readyz", func() bool {
			resp, err := http.Get("http://" + d.api + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	d.start()
	return d
}

func (d *demo) url(path string) string { return "http://" + d.api + path }

// apiGet reads an API answer as the CLI would.
func (d *demo) apiGet(t *testing.T, path, token string, into any) {
	t.Helper()
	d.request(t, "GET", path, token, "", into)
}

// apiPost sends a JSON body to the API as the CLI would.
func (d *demo) apiPost(t *testing.T, path, token, body string) {
	t.Helper()
	d.request(t, "POST", path, token, body, nil)
}

// request makes one API request and decodes its answer into into (when not
// nil); any status but 2xx fails the test.
func (d *demo) request(t *testing.T, method, path, token, body string, into any) {
	t.Helper()
	req, _ := http.NewRequest(method, d.url(path), strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
}

var poll = sinktest.WaitFor

// The browser and its page: internal/browsertest.
var (
	browser = browsertest.Start
	run     = browsertest.Run
	waitJS  = browsertest.WaitJS
)

// eval runs a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	return browsertest.Eval[T](t, ctx, js)
}

// screenshot writes the viewport as PNG into the test's artifacts.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// terminalText is the JavaScript for the text in the Shell tab's
// terminal, one line per row of its buffer.
const terminalText = `(() => { const b = document.querySelector('.terminal').terminal.buffer.active; let s = ''; for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + '\n'; return s; })()`

// ptySize runs `stty size` in the Shell tab until the PTY's size is the
// terminal's (rows, cols) at that moment, and returns it. While the page's
// layout settles the terminal may refit between two looks, so a mismatch
// is asked again, a few times.
func ptySize(t *testing.T, ctx context.Context) [2]int {
	t.Helper()
	const sizeLines = terminalText + `.split('\n').filter(l => /^\d+ \d+$/.test(l))`
	for try := 0; ; try++ {
		before := len(eval[[]string](t, ctx, sizeLines))
		size := eval[[]int](t, ctx, `(() => { const t = document.querySelector('.terminal').terminal; return [t.rows, t.cols]; })()`)
		typeLine(t, ctx, "stty size")
		var last string
		poll(t, 10*time.Second, "the output of stty size", func() bool {
			lines := eval[[]string](t, ctx, sizeLines)
			if len(lines) > before {
				last = lines[len(lines)-1]
			}
			return len(lines) > before
		})
		if want := fmt.Sprintf("%d %d", size[0], size[1]); last == want {
			return [2]int{size[0], size[1]}
		} else if try == 3 {
			t.Fatalf("stty size said %q, never the terminal's size %s", last, want)
		}
	}
}

// typeLine types a line into the terminal and presses Enter: the text as
// inserted text and Enter as a bare key press, since key events that also
// carry text reach xterm.js twice (as keydown and as keypress).
func typeLine(t *testing.T, ctx context.Context, line string) {
	t.Helper()
	enter := func(typ input.DispatchKeyEventType) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13})
			return err
		})
	}
	run(t, ctx,
		chromedp.Focus(chromedp.CSS(`.terminal textarea`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: line})
			return err
		}),
		enter(input.DispatchKeyEventTypeRawKeyDown), enter(input.DispatchKeyEventTypeKeyUp))
}

// lineTexts is the JavaScript for the text of the log lines on screen.
const lineTexts = `[...document.querySelectorAll('.line .text')].map(e => e.textContent)`

func TestBrowserDemo(t *testing.T) {
	d := startDemo(t, false)
	ctx := browser(t)

	// The overview lists every service with its state.
	run(t, ctx, chromedp.Navigate(d.url("/")))
	for _, svc := range []string{"demo/web", "demo/crashy", "jobs/hello-job"} {
		waitJS(t, ctx, 20*time.Second, svc+" listed with a state",
			fmt.Sprintf(`document.querySelector('tr[data-service=%q] .state')?.textContent`, svc))
	}
	waitJS(t, ctx, 20*time.Second, "crashy shown as crashing",
		`document.querySelector('tr[data-service="demo/crashy"] .state').textContent === 'crashing'`)
	waitJS(t, ctx, 20*time.Second, "web ready", `document.querySelector('tr[data-service="demo/web"] .state').textContent === 'ready'`)
	waitJS(t, ctx, 10*time.Second, "the crashing instance under Needs attention",
		`[...document.querySelectorAll('.attention li')].some(li => li.textContent.includes('demo/crashy') && li.textContent.includes('code 1'))`)
	screenshot(t, ctx, "overview")

	// Clicking the crashing service shows its crash and its log lines.
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-service="demo/crashy"] a`)))
	waitJS(t, ctx, 10*time.Second, "the crashy service page", `location.pathname === '/services/demo/crashy'`)
	waitJS(t, ctx, 20*time.Second, "the crash: last exit code 1 (Error)",
		`[...document.querySelectorAll('.last-exit')].some(e => e.textContent.includes('code 1 (Error)'))`)
	waitJS(t, ctx, 20*time.Second, "crashy's log lines", lineTexts+`.some(s => s.includes('connecting to the database'))`)
	waitJS(t, ctx, 20*time.Second, "crashy's exit on stderr",
		`[...document.querySelectorAll('.line[data-stream=stderr] .text')].some(e => e.textContent.includes('exiting with code 1'))`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`.line[data-stream=stderr]`)))
	waitJS(t, ctx, 5*time.Second, "the clicked line shown whole", `document.querySelector('.line-detail pre')?.textContent.includes('exiting with code 1')`)
	screenshot(t, ctx, "service-crashy")

	// A regex search narrows the lines (server-side, so the view holds
	// only matching lines).
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/logs")))
	waitJS(t, ctx, 20*time.Second, "web's log lines", lineTexts+`.length > 5`)
	run(t, ctx,
		chromedp.SetValue(chromedp.CSS(`select[name=mode]`), "regex"),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), `seq=\d*7 instance`),
		chromedp.Click(chromedp.CSS(`.log-controls button[type=submit]`)),
	)
	waitJS(t, ctx, 10*time.Second, "the regex in the URL", `new URLSearchParams(location.search).get('mode') === 'regex'`)
	waitJS(t, ctx, 20*time.Second, "only lines matching seq=\\d*7", `(() => { const l = `+lineTexts+`; return l.length > 0 && l.every(s => /seq=\d*7 instance/.test(s)); })()`)
	screenshot(t, ctx, "logs-regex")

	// The live tail shows a line printed after the page opened within 2 s.
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/logs")))
	waitJS(t, ctx, 20*time.Second, "the live tail", `document.querySelector('.pill.live') && `+lineTexts+`.length > 0`)
	var svc struct {
		Services []struct{ Instances []struct{ Port int } }
	}
	d.apiGet(t, "/api/v1/services/demo/web", "", &svc)
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/?%s", svc.Services[0].Instances[0].Port, marker))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	printed := time.Now()
	waitJS(t, ctx, 5*time.Second, "the new line", lineTexts+fmt.Sprintf(`.some(s => s.includes(%q))`, marker))
	if took := time.Since(printed); took > 2*time.Second {
		t.Errorf("the line printed after the page opened showed after %s, want within 2s", took)
	} else {
		t.Logf("a new line showed %s after it was printed", took.Round(time.Millisecond))
	}
	screenshot(t, ctx, "service-web-logs")

	// opshub restarts: the tail says it is disconnected, reconnects and
	// goes on with the new instances' lines.
	d.stop()
	waitJS(t, ctx, 10*time.Second, "the tail disconnected", `document.querySelector('.pill.reconnecting')`)
	d.start()
	waitJS(t, ctx, 20*time.Second, "the tail live again", `document.querySelector('.pill.live')`)
	marker = fmt.Sprintf("after-restart-%d", time.Now().UnixNano())
	poll(t, 20*time.Second, "the new instance answering", func() bool {
		d.apiGet(t, "/api/v1/services/demo/web", "", &svc)
		if len(svc.Services[0].Instances) == 0 {
			return false
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/?%s", svc.Services[0].Instances[0].Port, marker))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	waitJS(t, ctx, 10*time.Second, "a line printed after the restart", lineTexts+fmt.Sprintf(`.some(s => s.includes(%q))`, marker))

	// The metrics tab draws CPU and memory with data points (a sample
	// every 15 s).
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/metrics")))
	for _, chart := range []string{"CPU (cores)", "Memory (working set)"} {
		waitJS(t, ctx, 60*time.Second, chart+" with data points",
			fmt.Sprintf(`(() => { const c = document.querySelector('[data-chart=%q]'); return c && +c.dataset.points > 0 && c.querySelector('canvas'); })()`, chart))
	}
	// Hovering a chart shows each series' value at that time. A chart is
	// drawn anew when a series appears (a new instance's first sample), which
	// ends a hover, so the pointer keeps moving over it as a user's does.
	hovered := 0
	poll(t, 20*time.Second, "values in the CPU chart's legend on hover", func() bool {
		box := eval[[]float64](t, ctx, `(() => { const r = document.querySelector('[data-chart="CPU (cores)"] .u-over').getBoundingClientRect(); return [r.x + r.width * 0.9, r.y + r.height / 2]; })()`)
		hovered++
		run(t, ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0]-float64(hovered%2), box[1]))
		return eval[bool](t, ctx, `[...document.querySelectorAll('[data-chart="CPU (cores)"] .u-legend .u-series')].slice(1).some(e => /[0-9]/.test(e.querySelector('.u-value').textContent))`)
	})
	screenshot(t, ctx, "service-web-metrics")

	// Probe history is shown.
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/health")))
	waitJS(t, ctx, 20*time.Second, "the readiness probe's history",
		`document.querySelectorAll('[data-probe=readiness] .history .run.good').length > 2`)
	screenshot(t, ctx, "service-web-health")

	// The Shell tab: a terminal in an instance, over the exec WebSocket.
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/shell")))
	waitJS(t, ctx, 20*time.Second, "the Open a shell button", `document.querySelector('.shell-head button.primary')`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`.shell-head button.primary`)))
	waitJS(t, ctx, 20*time.Second, "the shell connected", `document.querySelector('.shell-status.connected')`)
	typeLine(t, ctx, `echo "instance=$OPSHUB_INSTANCE"`)
	waitJS(t, ctx, 10*time.Second, "the instance's environment in the terminal", terminalText+`.includes('instance=web-')`)
	initial := ptySize(t, ctx)
	screenshot(t, ctx, "service-web-shell")
	// A smaller window: the terminal follows, and the PTY with it.
	run(t, ctx, chromedp.EmulateViewport(900, 600))
	waitJS(t, ctx, 10*time.Second, "the terminal refitted", fmt.Sprintf(`document.querySelector('.terminal').terminal.cols < %d`, initial[1]))
	if got := ptySize(t, ctx); got[1] >= initial[1] {
		t.Errorf("after the window shrank the PTY is %v, was %v", got, initial)
	}
	typeLine(t, ctx, "exit 3")
	waitJS(t, ctx, 10*time.Second, "the exit code", `document.querySelector('.shell-status')?.textContent.includes('exited with code 3')`)
	run(t, ctx, chromedp.EmulateViewport(1280, 800))

	// Keyboard: Tab reaches the service links from the top of the page.
	run(t, ctx, chromedp.Navigate(d.url("/")))
	waitJS(t, ctx, 20*time.Second, "the overview", `document.querySelector('tr[data-service="demo/web"] a')`)
	reached := false
	for i := 0; i < 25 && !reached; i++ {
		run(t, ctx, chromedp.KeyEvent("\t"))
		reached = eval[bool](t, ctx, `document.activeElement?.closest('tr[data-service="demo/web"]') !== null && document.activeElement?.tagName === 'A'`)
	}
	if !reached {
		t.Error("Tab did not reach the demo/web link on the overview")
	}

	// Phone-sized, the overview fits the width; dark, it is drawn dark.
	run(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(d.url("/")))
	waitJS(t, ctx, 20*time.Second, "the overview", `document.querySelector('tr[data-service="demo/web"] .state')`)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390 px the page is %d px wide", w)
	}
	screenshot(t, ctx, "overview-phone")
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/logs")))
	waitJS(t, ctx, 20*time.Second, "web's log lines", lineTexts+`.length > 0`)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390 px the service page is %d px wide", w)
	}
	screenshot(t, ctx, "service-web-phone")
	run(t, ctx, chromedp.EmulateViewport(1280, 800),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}),
		chromedp.Navigate(d.url("/services/demo/web/logs")))
	waitJS(t, ctx, 20*time.Second, "web's log lines", lineTexts+`.length > 0`)
	if bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(15, 18, 22)" {
		t.Errorf("dark background is %s", bg)
	}
	screenshot(t, ctx, "service-web-dark")
}

// TestBrowserFollowsAThousandLinesPerSecond: at 1,000 lines/s the page
// keeps drawing only the visible rows and a bounded number of lines, and
// stays responsive.
func TestBrowserFollowsAThousandLinesPerSecond(t *testing.T) {
	d := startDemo(t, false)
	ctx := browser(t)
	var svc struct {
		Services []struct{ Instances []struct{ Port int } }
	}
	d.apiGet(t, "/api/v1/services/demo/web", "", &svc)
	port := svc.Services[0].Instances[0].Port
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/control?log-rate=1000", port), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/logs")))
	waitJS(t, ctx, 20*time.Second, "the live tail", `document.querySelector('.pill.live') && `+lineTexts+`.length > 0`)
	start := eval[float64](t, ctx, `+document.querySelector('.count').textContent.split(' ')[0]`)
	began := time.Now()
	var slowest time.Duration
	for time.Since(began) < 12*time.Second {
		t0 := time.Now()
		rows := eval[int](t, ctx, `document.querySelectorAll('.line').length`)
		if took := time.Since(t0); took > slowest {
			slowest = took
		}
		if rows > 120 {
			t.Fatalf("%d rows in the page; only the visible ones should be drawn", rows)
		}
		time.Sleep(200 * time.Millisecond)
	}
	kept := eval[float64](t, ctx, `+document.querySelector('.count').textContent.split(' ')[0]`)
	t.Logf("lines kept went from %.0f to %.0f in 12 s; slowest page answer %s", start, kept, slowest.Round(time.Millisecond))
	// Over 10,000 lines came in 12 s: the page keeps the newest 10,000.
	if kept != 10000 {
		t.Errorf("the page keeps %.0f lines after 12 s at 1,000 lines/s, want its bound of 10,000", kept)
	}
	if slowest > time.Second {
		t.Errorf("the page took %s to answer while following; it should not freeze", slowest)
	}
	screenshot(t, ctx, "logs-1000-per-second")
}

// TestBrowserTokens: with tokens configured the UI asks for one; a
// read-only token reads but cannot resend a delivery, an admin token can.
func TestBrowserTokens(t *testing.T) {
	d := startDemo(t, true)
	ctx := browser(t)
	run(t, ctx, chromedp.Navigate(d.url("/")))
	waitJS(t, ctx, 20*time.Second, "the token prompt", `document.querySelector('#token-input')`)
	screenshot(t, ctx, "token-prompt")
	signIn := func(token string) {
		run(t, ctx,
			chromedp.SendKeys(chromedp.CSS(`#token-input`), token),
			chromedp.Click(chromedp.CSS(`.token-form button[type=submit]`)))
	}
	signIn(readToken)
	waitJS(t, ctx, 20*time.Second, "services with the read-only token", `document.querySelector('tr[data-service="demo/web"] .state')`)
	if eval[bool](t, ctx, `!!document.querySelector('#token-input')`) {
		t.Fatal("the prompt stayed after a valid token")
	}

	// A crash of demo/crashy is delivered to the webhook.
	poll(t, 30*time.Second, "a delivery to the webhook", func() bool { return d.webhook.Load() > 0 })

	// The notification's link lands on the crashed instance's logs around
	// the crash, the tail paused.
	var sent struct {
		Deliveries []struct {
			Payload struct {
				Instance string
				Data     struct{ Link string }
			}
		}
	}
	d.apiGet(t, "/api/v1/deliveries", adminToken, &sent)
	crash := sent.Deliveries[len(sent.Deliveries)-1].Payload
	if !strings.HasPrefix(crash.Data.Link, d.url("/services/demo/crashy/logs?")) {
		t.Fatalf("the notification links to %q, want the crashy service's logs in the UI", crash.Data.Link)
	}
	run(t, ctx, chromedp.Navigate(crash.Data.Link))
	waitJS(t, ctx, 20*time.Second, "the crash's lines in the linked range",
		lineTexts+`.some(s => s.includes('exiting with code 1')) && document.querySelector('.pill.range')`)
	if got := eval[string](t, ctx, `document.querySelector('.picker select').value`); got != crash.Instance {
		t.Errorf("the link shows container %q, want %q", got, crash.Instance)
	}
	screenshot(t, ctx, "notification-link")

	run(t, ctx, chromedp.Navigate(d.url("/alerts")))
	waitJS(t, ctx, 20*time.Second, "a delivery with a Resend button", `document.querySelector('tr[data-delivery] button')`)
	deliveries := func() int {
		var body struct{ Deliveries []json.RawMessage }
		d.apiGet(t, "/api/v1/deliveries", adminToken, &body)
		return len(body.Deliveries)
	}
	before := deliveries()
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-delivery] button`)))
	waitJS(t, ctx, 10*time.Second, "the API's refusal", `document.querySelector('tr[data-delivery] .action .error')?.textContent.includes('lacks the "admin" scope')`)
	screenshot(t, ctx, "resend-refused")
	// The API answers after it resent or refused: a resend would be listed.
	if after := deliveries(); after != before {
		t.Errorf("deliveries went from %d to %d after a read-only resend", before, after)
	}

	// Releases: a deploy's progress shows live, then its end; a read-only
	// token's rollback is refused with the API's message.
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/releases")))
	waitJS(t, ctx, 20*time.Second, "release #1", `document.querySelector('tr[data-revision="1"]')`)
	d.apiPost(t, "/api/v1/services/demo/web/deploy", adminToken, `{"env": {"GREETING": "hello"}, "version": "2", "reason": "browser test"}`)
	waitJS(t, ctx, 10*time.Second, "release #2 progressing with its progress",
		`document.querySelector('tr[data-revision="2"][data-state=progressing] .progress .bar') && document.querySelector('tr[data-revision="2"] .trigger').textContent === 'api by admin'`)
	screenshot(t, ctx, "releases-progressing")
	waitJS(t, ctx, 60*time.Second, "release #2 succeeded", `document.querySelector('tr[data-revision="2"][data-state=succeeded]')`)
	if got := eval[string](t, ctx, `document.querySelector('tr[data-revision="2"] .spec').textContent`); !strings.HasPrefix(got, "version 2 · ") || !strings.HasSuffix(got, "opshub-demo --listen 127.0.0.1:${PORT} --log-rate 2 --stderr-rate 0.2 --access-log · 1 env variable") {
		t.Errorf("release #2's spec shows %q, want its version, command and env", got)
	}
	releases := func() int {
		var body struct{ Releases []json.RawMessage }
		d.apiGet(t, "/api/v1/services/demo/web/releases", adminToken, &body)
		return len(body.Releases)
	}
	run(t, ctx, chromedp.Click(chromedp.CSS(`.releases .row button`)))
	waitJS(t, ctx, 10*time.Second, "the API's refusal of the rollback", `document.querySelector('.releases .row .error')?.textContent.includes('lacks the "deploy" scope')`)
	if n := releases(); n != 2 {
		t.Errorf("%d releases after a read-only rollback, want 2", n)
	}
	screenshot(t, ctx, "releases-rollback-refused")

	// The Shell tab with a read-only token: the API's refusal.
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/shell")))
	waitJS(t, ctx, 20*time.Second, "the Open a shell button", `document.querySelector('.shell-head button.primary')`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`.shell-head button.primary`)))
	waitJS(t, ctx, 20*time.Second, "the shell refused for the read-only token",
		`document.querySelector('.shell-status.refused')?.textContent.includes('lacks the "exec" scope')`)
	screenshot(t, ctx, "shell-refused")
	run(t, ctx, chromedp.Navigate(d.url("/alerts")))

	// An admin token resends.
	run(t, ctx, chromedp.Click(chromedp.CSS(`.signout`)))
	waitJS(t, ctx, 20*time.Second, "the token prompt again", `document.querySelector('#token-input')`)
	signIn(adminToken)
	waitJS(t, ctx, 20*time.Second, "the deliveries", `document.querySelector('tr[data-delivery] button')`)
	before = deliveries()
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-delivery] button`)))
	waitJS(t, ctx, 10*time.Second, "the resend done", `document.querySelector('tr[data-delivery] .action .ok')`)
	if after := deliveries(); after != before+1 {
		t.Errorf("deliveries went from %d to %d after an admin resend, want one more", before, after)
	}

	// An admin rolls back to revision 1: a new release, triggered by
	// rollback, restores its spec.
	run(t, ctx, chromedp.Navigate(d.url("/services/demo/web/releases")))
	waitJS(t, ctx, 20*time.Second, "the roll back to #1 button", `document.querySelector('tr[data-revision="1"] button')`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-revision="1"] button`)))
	waitJS(t, ctx, 10*time.Second, "release #3, a rollback to #1 by admin",
		`document.querySelector('tr[data-revision="3"] .trigger')?.textContent === 'rollback by admin' && document.querySelector('tr[data-revision="3"]').textContent.includes('rollback to #1')`)
	waitJS(t, ctx, 60*time.Second, "release #3 succeeded", `document.querySelector('tr[data-revision="3"][data-state=succeeded]')`)
	screenshot(t, ctx, "releases-rolled-back")

	// Sinks: an admin pauses and resumes the archive; spend shows the
	// month so far and the forecast.
	sinkState := func() string {
		var body struct {
			Sinks []struct{ Name, State string }
		}
		d.apiGet(t, "/api/v1/sinks", readToken, &body)
		return body.Sinks[0].State
	}
	run(t, ctx, chromedp.Navigate(d.url("/sinks")))
	waitJS(t, ctx, 20*time.Second, "the archive sink running", `document.querySelector('tr[data-sink=archive] .state')?.textContent === 'running'`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-sink=archive] button`)))
	waitJS(t, ctx, 10*time.Second, "the archive sink paused", `document.querySelector('tr[data-sink=archive] .state')?.textContent === 'paused'`)
	if got := sinkState(); got != "paused" {
		t.Errorf("after Pause the API says the sink is %s", got)
	}
	screenshot(t, ctx, "sinks-paused")
	run(t, ctx, chromedp.Click(chromedp.CSS(`tr[data-sink=archive] button`)))
	waitJS(t, ctx, 10*time.Second, "the archive sink resumed", `document.querySelector('tr[data-sink=archive] .state')?.textContent === 'running'`)
	run(t, ctx, chromedp.Navigate(d.url("/spend")))
	waitJS(t, ctx, 20*time.Second, "spend with a forecast", `document.querySelectorAll('.figures .big').length === 2`)
	screenshot(t, ctx, "spend")
}
