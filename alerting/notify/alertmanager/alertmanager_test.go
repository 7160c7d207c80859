package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// startAlertmanager runs the real Alertmanager (Debian prometheus-alertmanager)
// on a free loopback port and returns its URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := ""
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		sinktest.Missing(t, "Alertmanager is not installed: the Debian package prometheus-alertmanager (.ci/deps.d/alerting.sh)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route: {receiver: discard}\nreceivers: [{name: discard}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := sinktest.StartListening(t, "alertmanager", 20*time.Second, func(addr string) *exec.Cmd {
		return exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr, "--cluster.listen-address=")
	}, func(addr string) bool { return sinktest.HTTPReady("http://" + addr + "/-/ready")() })
	return "http://" + addr
}

type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func listAlerts(t *testing.T, base string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="container.crashloop"`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAlertsReachRealAlertmanager(t *testing.T) {
	base := startAlertmanager(t)
	var node yaml.Node
	if err := node.Encode(map[string]string{"url": base}); err != nil {
		t.Fatal(err)
	}
	n, err := New(notify.Spec{Name: "am", Type: Type, Settings: plugintest.Decode(t, Plugin.Settings(), &node)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	ev := model.Event{ID: "evt_1", Name: model.EventContainerCrashLoop, Status: model.StatusFiring, Severity: model.SeverityCritical,
		Time: start, Project: "demo", Service: "web", Instance: "web-1", Summary: "web-1 restarted 4 times in 10m",
		Data: map[string]any{"exitCode": 1, "lastLines": []any{"panic: boom"}}}
	msg := notify.Message{ID: "dlv_1", AlertKey: "container.crashloop|demo/web/web-1", Event: ev, Link: "http://127.0.0.1:7420/api/v1/services/demo/web"}
	if res, err := n.Notify(context.Background(), msg); err != nil || res.StatusCode != 200 {
		t.Fatalf("firing: %d %v", res.StatusCode, err)
	}
	got := listAlerts(t, base)
	if len(got) != 1 {
		t.Fatalf("Alertmanager holds %d crashloop alerts, want 1", len(got))
	}
	a := got[0]
	for k, want := range map[string]string{"alertname": "container.crashloop", "project": "demo", "service": "web", "instance": "web-1", "severity": "critical"} {
		if a.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], want)
		}
	}
	if a.Annotations["summary"] != ev.Summary || a.Annotations["exitCode"] != "1" || a.Status.State != "active" || !a.StartsAt.Equal(start) {
		t.Errorf("alert = %+v", a)
	}

	ev.Status, ev.Time = model.StatusResolved, time.Now().Add(-time.Second)
	msg.Event = ev
	if _, err := n.Notify(context.Background(), msg); err != nil {
		t.Fatalf("resolved: %v", err)
	}
	if got := listAlerts(t, base); len(got) != 0 {
		t.Errorf("after resolve Alertmanager still lists %s", fmt.Sprint(got))
	}
}
