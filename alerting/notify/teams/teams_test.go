package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func newNotifier(t *testing.T, url string) *Notifier {
	t.Helper()
	var node yaml.Node
	if err := node.Encode(map[string]string{"webhookURL": url}); err != nil {
		t.Fatal(err)
	}
	n, err := New(notify.Spec{Name: "ops-teams", Type: Type, Settings: plugintest.Decode(t, Plugin.Settings(), &node)})
	if err != nil {
		t.Fatal(err)
	}
	return n.(*Notifier)
}

func crash(instance string, lines []string) model.Event {
	return model.Event{
		ID: "evt_1", Name: model.EventContainerCrash, Status: model.StatusFiring, Severity: model.SeverityWarning,
		Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Project: "demo", Service: "web", Instance: instance,
		Summary: instance + " exited with exit code 1",
		Data:    map[string]any{"exitCode": 1, "reason": "Error", "lastLines": lines},
	}
}

// The request is what a Workflows "When a Teams webhook request is
// received" trigger and a legacy connector both take: a message with one
// Adaptive Card attachment, the event's title, facts, last lines and a link.
func TestCardShape(t *testing.T) {
	var body []byte
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		ctype = r.Header.Get("Content-Type")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	n := newNotifier(t, srv.URL+"/workflows/1/triggers/manual/paths/invoke?sig=s3cret")
	res, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash("web-1", []string{"panic: boom", "goroutine 1 [running]:"}), Link: "http://127.0.0.1:7420/api/v1/services/demo/web"})
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ctype)
	}
	if strings.Contains(res.Request, "s3cret") {
		t.Errorf("the delivery history shows the webhook's signature: %s", res.Request)
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("message %s", body)
	}
	c := m.Attachments[0].Content
	if c.Type != "AdaptiveCard" || c.Version == "" || len(c.Body) == 0 {
		t.Fatalf("card %s", body)
	}
	text := string(body)
	for _, want := range []string{"[FIRING] container.crash demo/web", "web-1 exited with exit code 1", "exitCode", "panic: boom", "Action.OpenUrl", "/api/v1/services/demo/web"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q: %s", want, text)
		}
	}
	if c.Body[0].Color != "Warning" {
		t.Errorf("title colour %q, want Warning for a warning", c.Body[0].Color)
	}
}

func TestResolvedCard(t *testing.T) {
	ev := crash("web-1", []string{"panic: boom"})
	ev.Status = model.StatusResolved
	m := Build(ev, "")
	c := m.Attachments[0].Content
	if !strings.HasPrefix(c.Body[0].Text, "[RESOLVED]") || c.Body[0].Color != "Good" {
		t.Errorf("title %q colour %q, want [RESOLVED] in Good", c.Body[0].Text, c.Body[0].Color)
	}
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), "panic: boom") {
		t.Error("a resolved card repeats the last lines")
	}
}

// Messages stay within Teams' 28 KB, however long the event's text.
func TestMessagesStayWithin28KB(t *testing.T) {
	long := strings.Repeat("ü", 6000)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%d %s", i, strings.Repeat("x", 4000)))
	}
	ev := crash("web-1", lines)
	ev.Summary = long
	for i := range 30 {
		ev.Data[fmt.Sprintf("key%02d", i)] = long
	}
	one, _ := json.Marshal(Build(ev, "http://x/y"))
	if len(one) > MaxMessageBytes {
		t.Errorf("one event: %d bytes", len(one))
	}
	if !strings.Contains(string(one), "19 xxx") {
		t.Error("the newest last line was dropped before older ones")
	}
	evs := make([]model.Event, 12)
	links := make([]string, 12)
	for i := range evs {
		evs[i] = ev
	}
	group, _ := json.Marshal(BuildGroup(evs, links))
	if len(group) > MaxMessageBytes {
		t.Errorf("a group: %d bytes", len(group))
	}
}

func TestTeamsAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    string
		body      string
		wantRetry time.Duration
		wantGone  bool
		wantErr   bool
	}{
		{"workflow accepts with 202", http.StatusAccepted, "", "", 0, false, false},
		{"legacy connector accepts with 1", http.StatusOK, "", "1", 0, false, false},
		{"429 with Retry-After", http.StatusTooManyRequests, "2", "", 2 * time.Second, false, true},
		{"legacy connector's 429 inside a 200", http.StatusOK, "", "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0", 0, false, true},
		{"deleted workflow", http.StatusNotFound, "", "", 0, true, true},
		{"removed connector", http.StatusGone, "", "", 0, true, true},
		{"too large is not retried", http.StatusRequestEntityTooLarge, "", "", 0, false, true},
		{"server error is retried", http.StatusBadGateway, "", "", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header map[string]string
			if tt.header != "" {
				header = map[string]string{"Retry-After": tt.header}
			}
			srv := sinktest.Answering(t, tt.status, header, tt.body)
			_, err := newNotifier(t, srv.URL).Notify(context.Background(), notify.Message{Event: crash("web-1", nil)})
			var re *notify.RetryableError
			retryable := errors.As(err, &re)
			switch {
			case !tt.wantErr && err != nil:
				t.Errorf("err %v", err)
			case tt.wantErr && err == nil:
				t.Error("no error")
			case tt.wantGone != errors.Is(err, notify.ErrGone):
				t.Errorf("err %v, gone want %t", err, tt.wantGone)
			case tt.wantRetry > 0 && (!retryable || re.RetryAfter != tt.wantRetry):
				t.Errorf("err %v, want retry after %s", err, tt.wantRetry)
			case tt.status == http.StatusRequestEntityTooLarge && retryable:
				t.Errorf("413 is retryable: %v", err)
			case (tt.status == http.StatusTooManyRequests || tt.status >= 500 || strings.Contains(tt.body, "429")) && !retryable:
				t.Errorf("err %v is not retryable", err)
			}
		})
	}
}

func TestConfigNeedsAWebhookURL(t *testing.T) {
	var node yaml.Node
	_ = node.Encode(map[string]string{"webhookURL": "not a url"})
	if err := plugintest.DecodeErr(Plugin.Settings(), &node); err == nil || !strings.Contains(err.Error(), "webhookURL") {
		t.Errorf("err %v, want one naming webhookURL", err)
	}
}
