package alerting

import (
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// TestLinkOpensTheWebUI: a notification's link lands on the web UI's view
// of the event: the instance's logs around the event, or the metrics tab.
func TestLinkOpensTheWebUI(t *testing.T) {
	p := &Pipeline{opts: Options{APIBase: "https://opshub.example"}}
	at := time.Date(2026, 12, 7, 6, 30, 0, 0, time.UTC)
	ref := model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c-0", Container: "web"}
	for _, tt := range []struct {
		view string
		want string
	}{
		{"logs", "https://opshub.example/services/demo/web/logs?from=2026-12-07T06%3A20%3A00Z&instance=web-7f9c-0&range=custom&to=2026-12-07T06%3A35%3A00Z"},
		{"metrics", "https://opshub.example/services/demo/web/metrics?instance=web-7f9c-0"},
	} {
		if got := p.link(ref, tt.view, at); got != tt.want {
			t.Errorf("link for %s = %s, want %s", tt.view, got, tt.want)
		}
	}
	if got := p.link(model.Ref{Project: "demo", Service: "web"}, "metrics", at); got != "https://opshub.example/services/demo/web/metrics" {
		t.Errorf("service link = %s", got)
	}
	if got := (&Pipeline{}).link(ref, "logs", at); got != "" {
		t.Errorf("link without a base URL = %q, want none", got)
	}
}
