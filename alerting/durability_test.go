package alerting

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// The helper process is the test binary run again with these variables: it
// runs a pipeline on DIR with one webhook integration to URL, publishes
// PUBLISH events, and reports on stdout when they are all in the outbox
// ("queued") and when the outbox is empty ("drained").
const (
	envHelper  = "OPSHUB_ALERTING_HELPER"
	envDir     = "OPSHUB_ALERTING_DIR"
	envURL     = "OPSHUB_ALERTING_URL"
	envPublish = "OPSHUB_ALERTING_PUBLISH"
)

func TestHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("run as a helper process by TestOutboxSurvivesSIGKILL")
	}
	db, err := store.Open(filepath.Join(os.Getenv(envDir), "state.db"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	p, err := New(Options{Store: db, Rules: testRules(time.Hour),
		Retry: RetryPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		Integrations: []Integration{{Name: "hook", Type: "webhook",
			Notifier: webhookNotifier(t, "hook", os.Getenv(envURL), "k")}}})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	go func() { _ = p.Run(context.Background()) }()
	n, _ := strconv.Atoi(os.Getenv(envPublish))
	for i := range n {
		p.Publish(crashLoopEvent(fmt.Sprintf("web-%d", i)))
	}
	said := map[string]bool{}
	for {
		ds, _ := p.Deliveries()
		pending := 0
		for _, d := range ds {
			if d.State == DeliveryPending {
				pending++
			}
		}
		if n > 0 && len(ds) >= n && !said["queued"] {
			fmt.Println("queued")
			said["queued"] = true
		}
		if len(ds) > 0 && pending == 0 && !said["drained"] {
			fmt.Println("drained")
			said["drained"] = true
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startHelper runs the helper and returns it with a channel of its lines.
func startHelper(t *testing.T, dir, url string, publish int) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envHelper+"=1", envDir+"="+dir, envURL+"="+url, envPublish+"="+strconv.Itoa(publish))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
	return cmd, lines
}

func expectLine(t *testing.T, lines <-chan string, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("helper ended before saying %q", want)
			}
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("helper did not say %q within %s", want, timeout)
		}
	}
}

func TestOutboxSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs helper processes")
	}
	const n = 50
	dir := t.TempDir()
	// A port nobody listens on yet: the receiver is down.
	addr := sinktest.FreeAddr(t)
	url := "http://" + addr + "/hook"

	first, lines := startHelper(t, dir, url, n)
	expectLine(t, lines, "queued", 20*time.Second)
	if err := first.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	rcv := &sinktest.HookReceiver{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: rcv}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	_, lines = startHelper(t, dir, url, 0)
	expectLine(t, lines, "drained", 30*time.Second)

	got := rcv.Requests()
	seen := map[string]int{}
	instances := map[string]bool{}
	for _, r := range got {
		seen[r.ID]++
		instances[r.Event.Instance] = true
		if r.Event.Name != model.EventContainerCrashLoop {
			t.Errorf("unexpected event %s", r.Body)
		}
	}
	for id, c := range seen {
		if c > 1 {
			t.Errorf("webhook-id %s arrived %d times", id, c)
		}
	}
	if len(seen) != n || len(instances) != n {
		t.Fatalf("receiver got %d distinct webhook-ids for %d instances, want %d of each", len(seen), len(instances), n)
	}
}
