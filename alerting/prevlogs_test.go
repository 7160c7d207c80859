package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// instanceFeed is a platform that sends the instance events a test gives it.
type instanceFeed chan model.InstanceEvent

func (f instanceFeed) Subscribe(context.Context) <-chan model.InstanceEvent { return f }

// crashPipeline runs a pipeline that watches feed, reads last lines with
// logs, and sends every event to a webhook receiver.
func crashPipeline(t *testing.T, feed instanceFeed, logs collector.Querier, timeout time.Duration) *sinktest.HookReceiver {
	t.Helper()
	rcv := &sinktest.HookReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: testRules(0), Platform: feed,
		Logs: collector.LastLines{Reader: logs}, LastLinesTimeout: timeout,
		Integrations: []Integration{{Name: "hook", Type: "webhook", Notifier: webhookNotifier(t, "hook", srv.URL, "k")}}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	return rcv
}

// writeCRI writes one CRI log file of lines stamped from start, one
// millisecond apart; a line ending in "\\" is written as a partial record
// joined with the next.
func writeCRI(t testing.TB, path string, start time.Time, lines []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, l := range lines {
		tag := "F"
		if s, ok := strings.CutSuffix(l, `\`); ok {
			l, tag = s, "P"
		}
		fmt.Fprintf(&b, "%s stdout %s %s\n", start.Add(time.Duration(i)*time.Millisecond).UTC().Format(time.RFC3339Nano), tag, l)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// On one machine the crash event's last lines come from the runtime's CRI
// files through the same reader the log API uses: the last 20 lines of the
// run that ended, partial records joined, and nothing of the run that
// started after it.
func TestCrashCarriesTheLastLinesOfTheRun(t *testing.T) {
	pods := t.TempDir()
	dir := filepath.Join(pods, "demo_web-1_0b1c", "web")
	exitAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	var run1, run2 []string
	for i := range 5 {
		run1 = append(run1, fmt.Sprintf("first run %d", i))
	}
	for i := range 30 {
		run2 = append(run2, fmt.Sprintf("line %d", i))
	}
	run2 = append(run2, `panic: part one, \`, "part two")
	writeCRI(t, filepath.Join(dir, "0.log"), exitAt.Add(-time.Hour), run1)
	writeCRI(t, filepath.Join(dir, "1.log"), exitAt.Add(-time.Second), run2)
	// The next run started at once and has written already.
	writeCRI(t, filepath.Join(dir, "2.log"), exitAt.Add(2*time.Second), []string{"starting again"})

	feed := make(instanceFeed, 1)
	rcv := crashPipeline(t, feed, collector.NewReader(collector.ReaderOptions{Roots: []string{pods}}), 0)
	feed <- model.InstanceEvent{Kind: model.InstanceExited, Ref: web1, Time: exitAt.Add(3 * time.Second), Restarts: 1,
		Exit: &model.Exit{Code: 2, Reason: "Error", Time: exitAt}}

	sinktest.WaitFor(t, 5*time.Second, "the crash notification", func() bool { return len(rcv.Requests()) == 1 })
	ev := rcv.Requests()[0].Event
	raw, _ := ev.Data["lastLines"].([]any)
	if len(raw) != 20 {
		t.Fatalf("got %d last lines, want 20: %v", len(raw), ev.Data)
	}
	if raw[0] != "line 11" || raw[19] != "panic: part one, part two" {
		t.Errorf("first and last lines %q and %q, want \"line 11\" and the joined partial line", raw[0], raw[19])
	}
	if ev.Name != model.EventContainerCrash || ev.Data["exitCode"] != float64(2) || !strings.Contains(ev.Summary, "exit code 2") {
		t.Errorf("event %+v lacks the exit code", ev)
	}
}

// slowReader answers only when its context ends; failingReader fails at once.
type slowReader struct{}

func (slowReader) Query(ctx context.Context, _ collector.Query) ([]model.LogRecord, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type failingReader struct{}

func (failingReader) Query(context.Context, collector.Query) ([]model.LogRecord, error) {
	return nil, errors.New("collector on node-3: connection refused")
}

// A log reader that hangs or fails (a collector that is away) does not hold
// the crash notification back beyond the read timeout, nor other events
// behind it; the event says why it has no lines.
func TestCrashIsNotHeldBackByTheLogReader(t *testing.T) {
	tests := []struct {
		name    string
		reader  collector.Querier
		wantErr string
	}{
		{"a reader that hangs", slowReader{}, "the log reader did not answer within 300ms"},
		{"a reader that fails", failingReader{}, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := make(instanceFeed, 2)
			rcv := crashPipeline(t, feed, tt.reader, 300*time.Millisecond)
			feed <- model.InstanceEvent{Kind: model.InstanceExited, Ref: web1, Time: time.Now(), Restarts: 1, Exit: &model.Exit{Code: 1, Reason: "Error"}}
			feed <- model.InstanceEvent{Kind: model.InstanceEvicted, Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-2"}, Time: time.Now(), Message: "The node was low on resource: memory."}
			// 2 s is the budget from the event to the receiver.
			sinktest.WaitFor(t, 2*time.Second, "both notifications", func() bool { return len(rcv.Requests()) == 2 })
			for _, r := range rcv.Requests() {
				if r.Event.Name != model.EventContainerCrash {
					continue
				}
				if msg, _ := r.Event.Data["lastLinesError"].(string); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("lastLinesError %q, want it to say %q", msg, tt.wantErr)
				}
				if _, ok := r.Event.Data["lastLines"]; ok {
					t.Errorf("event has last lines: %v", r.Event.Data)
				}
			}
		})
	}
}

// podResolver maps a pod directory to its service as the collector's
// Kubernetes resolver does (the container name is not the service's).
type podResolver struct{ service string }

func (r podResolver) Resolve(src collector.Source) (model.Ref, model.Labels, bool) {
	return model.Ref{Project: src.Namespace, Service: r.service, Instance: src.Pod, Container: src.Container}, nil, true
}

// On a cluster the kubelet keeps the previous container's file next to the
// new one, a pod may run a sidecar, the finish time is cut to the second (so
// the last lines may be stamped after it), and the exit is seen only after
// the next run has started: the event still carries the crashed
// container's own last lines and nothing else.
func TestCrashLastLinesOnAKubernetesNode(t *testing.T) {
	pods := t.TempDir()
	pod := "shop_api-7f9c-x2_6f1e2d"
	finished := time.Now().Add(-time.Minute).Truncate(time.Second)
	writeCRI(t, filepath.Join(pods, pod, "app", "0.log"), finished.Add(200*time.Millisecond), []string{"listening on :8080", "fatal: cannot reach db"})
	writeCRI(t, filepath.Join(pods, pod, "app", "1.log"), finished.Add(1500*time.Millisecond), []string{"listening on :8080"})
	writeCRI(t, filepath.Join(pods, pod, "envoy", "0.log"), finished.Add(-300*time.Millisecond), []string{"upstream reset"})

	feed := make(instanceFeed, 1)
	rcv := crashPipeline(t, feed, collector.NewReader(collector.ReaderOptions{Roots: []string{pods}, Resolver: podResolver{service: "api"}}), 0)
	ref := model.Ref{Project: "shop", Service: "api", Instance: "api-7f9c-x2", Container: "app"}
	feed <- model.InstanceEvent{Kind: model.InstanceExited, Ref: ref, Time: finished.Add(3 * time.Second), Restarts: 0,
		Exit: &model.Exit{Code: 1, Reason: "Error", Time: finished}}

	sinktest.WaitFor(t, 5*time.Second, "the crash notification", func() bool { return len(rcv.Requests()) == 1 })
	data := rcv.Requests()[0].Event.Data
	got := fmt.Sprint(data["lastLines"])
	if got != "[listening on :8080 fatal: cannot reach db]" {
		t.Errorf("last lines %s, want the crashed app container's two lines only (data %v)", got, data)
	}
}
