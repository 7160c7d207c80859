//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/browsertest"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestContinuousDeploymentOnKubernetes: the controller follows a tag of
// the CNCF registry (htpasswd login, behind a proxy whose first answer is
// 429 with Retry-After) and rolls each new digest out to shop/web's
// container as a continuous release on the API server; a digest whose
// rollout fails is rolled back and not deployed again; a deploy by hand
// pauses it until it is resumed, which the web UI's Releases tab shows and
// does.
func TestContinuousDeploymentOnKubernetes(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	reg := sinktest.StartRegistryWithLogin(t, "ci", "s3cret")
	login := &authn.Basic{Username: "ci", Password: "s3cret"}
	lim := sinktest.LimitRegistry(t, reg, time.Second)
	// Pushed to the registry itself; the controller reads it through the
	// proxy.
	push := func() string { return sinktest.Push(t, reg.Host+"/acme/web", "main", login) }
	image := lim.Host + "/acme/web"
	d1 := push()

	_, hookSrv := newReceiver(t)
	k := startDrivenWeb(t, c)
	pass := filepath.Join(t.TempDir(), "registry.pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := runController(t, func(listen string) string {
		return releaseConfig(t, c, listen, hookSrv.URL) + fmt.Sprintf(`  continuous:
    - {project: shop, service: web, container: web, image: %s, tag: main, pollInterval: 1s, auth: {username: ci, passwordFile: %s}}
`, image, pass)
	}, app.ControllerOptions{})
	api, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}
	web := func() model.ContinuousState {
		t.Helper()
		states, err := api.Continuous(ctx, "shop", "web")
		if err != nil || len(states) != 1 {
			t.Fatalf("continuous of shop/web: %v, %v", states, err)
		}
		return states[0]
	}
	// morePolls waits until the registry was read again, over d later
	// than when it was read last.
	morePolls := func(d time.Duration) {
		t.Helper()
		checked := web().Checked
		sinktest.Eventually(t, waitTimeout, "more polls", func() error {
			if st := web(); !st.Checked.After(checked.Add(d)) {
				return fmt.Errorf("checked %s", st.Checked)
			}
			return nil
		})
	}
	// deployed waits for a continuous release of image@digest to end as
	// state, and returns it.
	deployed := func(digest, state string) model.Release {
		t.Helper()
		var rel model.Release
		sinktest.Eventually(t, waitTimeout, "a continuous release of "+digest+" "+state, func() error {
			for _, r := range releasesOf(t, api, "shop", "web") {
				if r.Trigger.Kind == model.TriggerContinuous && r.Spec.Images["web"] == image+"@"+digest {
					rel = r
					if r.State != state {
						return fmt.Errorf("revision %d %s (%s)", r.Revision, r.State, r.Reason)
					}
					return nil
				}
			}
			return fmt.Errorf("none yet; continuous state %+v", web())
		})
		return rel
	}

	t.Run("the digest of the tag is rolled out, after the registry's 429", func(t *testing.T) {
		rel := deployed(d1, model.ReleaseSucceeded)
		if rel.Trigger.By != image+":main" {
			t.Errorf("trigger %+v, want by %s:main", rel.Trigger, image)
		}
		waitImages(t, c, image+"@"+d1, 3)
		times := lim.Requests()
		if len(times) < 2 || times[1].Sub(times[0]) < time.Second {
			t.Errorf("requests at %v: the one after the 429 came before its Retry-After of 1s", times)
		}
	})

	t.Run("a new digest under the tag is rolled out", func(t *testing.T) {
		d2 := push()
		deployed(d2, model.ReleaseSucceeded)
		waitImages(t, c, image+"@"+d2, 3)
	})

	t.Run("a broken digest is rolled back and not deployed again", func(t *testing.T) {
		before := releasesOf(t, api, "shop", "web")[0]
		d3 := push()
		k.hold(image+"@"+d3, true) // its pods never become ready
		rel := deployed(d3, model.ReleaseRolledBack)
		back, _ := releaseEnds(t, api, rel.Revision+1)
		if back.Trigger.Kind != model.TriggerAutoRollback || back.State != model.ReleaseSucceeded || back.Spec.Images["web"] != before.Spec.Images["web"] {
			t.Fatalf("after the failure: %+v", back)
		}
		sinktest.Eventually(t, waitTimeout, "the failed digest is recorded", func() error {
			if st := web(); st.FailedDigest != d3 {
				return fmt.Errorf("state %+v", st)
			}
			return nil
		})
		// Polls go on (the tag still points at d3) and deploy nothing.
		morePolls(2 * time.Second)
		if rels := releasesOf(t, api, "shop", "web"); rels[0].Revision != back.Revision {
			t.Fatalf("a release after the rollback: %+v", rels[0])
		}
		k.hold(image+"@"+d3, false)
	})

	t.Run("a deploy by hand pauses it until resumed", func(t *testing.T) {
		manual, err := api.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "registry.example/web:manual", Container: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if st := web(); !st.Paused || st.PausedBy != "loopback" {
			t.Fatalf("after a deploy by hand: %+v", st)
		}
		releaseEnds(t, api, manual.Revision)
		d4 := push()
		sinktest.Eventually(t, waitTimeout, "the new digest is seen", func() error {
			if st := web(); st.Digest != d4 {
				return fmt.Errorf("state %+v", st)
			}
			return nil
		})
		morePolls(time.Second)
		if rels := releasesOf(t, api, "shop", "web"); rels[0].Revision != manual.Revision {
			t.Fatalf("a release while paused: %+v", rels[0])
		}
		waitImages(t, c, "registry.example/web:manual", 3)

		// The service's API answer says so.
		svc, err := getServiceContinuous(run.API)
		if err != nil || len(svc) != 1 || !svc[0].Paused {
			t.Fatalf("GET service: continuous %+v, %v", svc, err)
		}

		// The web UI's Releases tab shows the pause and resumes it.
		page := browsertest.Start(t)
		browsertest.Run(t, page, chromedp.Navigate(run.API+"/services/shop/web/releases"))
		paused := `document.querySelector('.continuous [data-container="web"][data-paused="true"]')`
		browsertest.WaitJS(t, page, waitTimeout, "the pause in the Releases tab", paused+`?.textContent.includes('deploy by hand by loopback')`)
		browsertest.Run(t, page, chromedp.Click(chromedp.CSS(`.continuous [data-container="web"] button`)))
		browsertest.WaitJS(t, page, waitTimeout, "following again", `document.querySelector('.continuous [data-container="web"][data-paused="false"]')?.textContent.includes('following')`)
		if st := web(); st.Paused {
			t.Fatalf("after Resume in the web UI: %+v", st)
		}
		deployed(d4, model.ReleaseSucceeded)
		waitImages(t, c, image+"@"+d4, 3)
	})
}

// getServiceContinuous reads the continuous deployments from GET
// /api/v1/services/shop/web.
func getServiceContinuous(api string) ([]model.ContinuousState, error) {
	var body struct {
		Services []struct {
			Continuous []model.ContinuousState `json:"continuous"`
		} `json:"services"`
	}
	code, err := getNodeJSON(api+"/api/v1/services/shop/web", &body)
	if err != nil || code != 200 || len(body.Services) != 1 {
		return nil, fmt.Errorf("GET service: %d %v", code, err)
	}
	return body.Services[0].Continuous, nil
}

// TestContinuousDeploymentAcrossAControllerFailover runs opshub's binary:
// a deploy by hand with `opshub deploy` pauses continuous deployment and
// `opshub status` says so; the leader is killed, and the new one keeps the
// pause (the state is in the Secrets), sees the next digest without
// deploying it, and deploys it after `opshub deploy --resume-continuous`.
func TestContinuousDeploymentAcrossAControllerFailover(t *testing.T) {
	dir, err := sinktest.OpshubBinaries()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "opshub")
	cli := func(server string, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--server", server}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("opshub %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/web"
	d1 := sinktest.Push(t, image, "main", nil)
	_, hookSrv := newReceiver(t)
	startDrivenWeb(t, c)
	configFor := func(listen string) string {
		return releaseConfig(t, c, listen, hookSrv.URL) + fmt.Sprintf(`  continuous:
    - {project: shop, service: web, container: web, image: %s, tag: main, pollInterval: 1s}
`, image)
	}
	a := startControllerProcessWith(t, "controller-a", configFor)
	waitLeads(t, a)
	b := startControllerProcessWith(t, "controller-b", configFor)
	apiA, _ := client.New(a.url, "")
	apiB, _ := client.New(b.url, "")
	newest := func(api *client.Client) model.Release {
		t.Helper()
		rels := releasesOf(t, api, "shop", "web")
		return rels[0]
	}
	sinktest.Eventually(t, waitTimeout, "the first digest rolled out", func() error {
		if r := newest(apiA); r.Trigger.Kind != model.TriggerContinuous || r.Spec.Images["web"] != image+"@"+d1 || r.State != model.ReleaseSucceeded {
			return fmt.Errorf("newest release %d %s %s %v", r.Revision, r.Trigger.Kind, r.State, r.Spec.Images)
		}
		return nil
	})

	t.Log(cli(a.url, "deploy", "shop/web", "--image", "registry.example/web:manual", "--container", "web", "--wait=false"))
	manual := newest(apiA)
	status := cli(a.url, "status", "shop/web")
	if !strings.Contains(status, "Continuous deployment of container web: "+image+":main: PAUSED (deploy by hand by loopback") ||
		!strings.Contains(status, "resume with: opshub deploy shop/web --resume-continuous") {
		t.Errorf("opshub status does not say continuous deployment is paused:\n%s", status)
	}

	d2 := sinktest.Push(t, image, "main", nil)
	a.Signal(t, syscall.SIGKILL)
	_ = a.Wait(t, waitTimeout)
	waitLeads(t, b)
	var seen model.ContinuousState
	sinktest.Eventually(t, waitTimeout, "the new leader sees the new digest", func() error {
		states, err := apiB.Continuous(ctx, "shop", "web")
		if err != nil || len(states) != 1 || states[0].Digest != d2 {
			return fmt.Errorf("%+v, %v", states, err)
		}
		seen = states[0]
		return nil
	})
	if !seen.Paused || seen.PausedBy != "loopback" || seen.Deployed != d1 {
		t.Fatalf("after the failover: %+v, want still paused with %s deployed", seen, d1)
	}
	if r := newest(apiB); r.Revision != manual.Revision {
		t.Fatalf("a release while paused: %d %s", r.Revision, r.Trigger.Kind)
	}

	t.Log(cli(b.url, "deploy", "shop/web", "--resume-continuous"))
	sinktest.Eventually(t, waitTimeout, "the new digest rolled out after the resume", func() error {
		if r := newest(apiB); r.Trigger.Kind != model.TriggerContinuous || r.Spec.Images["web"] != image+"@"+d2 || r.State != model.ReleaseSucceeded {
			return fmt.Errorf("newest release %d %s %s %v", r.Revision, r.Trigger.Kind, r.State, r.Spec.Images)
		}
		return nil
	})
	waitImages(t, c, image+"@"+d2, 3)
}

// waitLeads waits until the controller process leads.
func waitLeads(t *testing.T, p *controllerProcess) {
	t.Helper()
	sinktest.Eventually(t, waitTimeout, p.name+" leads", func() error {
		if got := readyz(p.url); got != "ok: leading" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
}
