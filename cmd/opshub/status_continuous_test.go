package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestStatusShowsAPausedContinuousDeployment(t *testing.T) {
	at := time.Date(2026, 12, 7, 13, 5, 12, 0, time.Local)
	var b bytes.Buffer
	renderContinuous(&b, []model.ContinuousState{{
		Project: "demo", Service: "web", Container: "web", Image: "registry.example.com/acme/web", Tag: "main",
		ResolvedTag: "main", Digest: "sha256:9f2c", Checked: at, Deployed: "sha256:41aa", Revision: 7, Outcome: "succeeded",
		FailedDigest: "sha256:0bad", Paused: true, PausedBy: "ci", PausedAt: &at, PausedReason: "deploy by hand",
	}, {
		Project: "demo", Service: "web", Container: "sidecar", Image: "ghcr.io/acme/side", Semver: "~1.4", Error: "read ghcr.io/acme/side: 401",
	}})
	for _, want := range []string{
		"Continuous deployment of container web: registry.example.com/acme/web:main: PAUSED (deploy by hand by ci at 2026-12-07 13:05:12); resume with: opshub deploy demo/web --resume-continuous",
		"registry: main points at sha256:9f2c",
		"deployed: sha256:41aa (revision 7, succeeded)",
		"failed: sha256:0bad is not deployed again until the tag moves",
		"Continuous deployment of container sidecar: ghcr.io/acme/side (semver ~1.4): on",
		"error: read ghcr.io/acme/side: 401",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
