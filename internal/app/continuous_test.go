package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
)

// TestFlowImageTrigger: on one machine a flow follows a tag of a real
// registry; the first digest read is the starting point, a new image
// pushed under the tag starts a run with ARG_IMAGE (image@digest),
// ARG_DIGEST and ARG_TAG, and the flows API shows what the trigger saw.
func TestFlowImageTrigger(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/web"
	first := sinktest.Push(t, image, "main", nil)
	dir := t.TempDir()
	cfg, err := app.ParseConfig(fmt.Appendf(nil, `
dataDir: %[1]s
release:
  flows:
    - name: ship
      triggers: [{image: {image: %[2]s, tag: main, pollInterval: 1s}}]
      steps:
        - {name: build, run: {command: [/bin/sh, -c, 'echo "${ARG_IMAGE} ${ARG_DIGEST} ${ARG_TAG}" >> %[1]s/shipped']}}
`, dir, image), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opshub := startRun(t, cfg, app.Options{})
	c, _ := client.New(opshub.API, "")
	sinktest.WaitFor(t, 30*time.Second, "the trigger to read the first digest", func() bool {
		flows, err := c.Flows(t.Context())
		return err == nil && len(flows) == 1 && len(flows[0].Images) == 1 && flows[0].Images[0].Digest == first
	})
	second := sinktest.Push(t, image, "main", nil)
	var runs []client.FlowRun
	sinktest.WaitFor(t, 30*time.Second, "a run for the new image", func() bool {
		runs, _ = c.FlowRuns(t.Context(), "ship")
		return len(runs) >= 1
	})
	run := waitFlowRun(t, c, runs[0].ID)
	if len(runs) != 1 || run.Trigger.Kind != "image" || run.Args["DIGEST"] != second {
		t.Fatalf("runs %+v, want one image run for %s", runs, second)
	}
	shipped, _ := os.ReadFile(filepath.Join(dir, "shipped"))
	if want := image + "@" + second + " " + second + " main\n"; string(shipped) != want {
		t.Errorf("the step saw %q, want %q", shipped, want)
	}
	flows, _ := c.Flows(t.Context())
	if got := flows[0].Triggers; len(got) != 2 || got[1] != "image" {
		t.Errorf("triggers %v, want api and image", got)
	}
}
