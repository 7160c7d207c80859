package packaging_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/internal/packaging"
)

const root = "../.."

// The chart and the kustomize base run the image `make image` names:
// ghcr.io/opshub/opshub tagged with the chart's appVersion.
func TestManifestsRunTheImageMakeImageNames(t *testing.T) {
	var chart struct {
		AppVersion string `yaml:"appVersion"`
	}
	readYAML(t, "deploy/helm/opshub/Chart.yaml", &chart)
	var values struct {
		Image struct{ Repository, Tag string }
	}
	readYAML(t, "deploy/helm/opshub/values.yaml", &values)
	if values.Image.Repository != packaging.DefaultRepository || values.Image.Tag != "" {
		t.Errorf("chart image %s:%s, want %s with the appVersion as tag", values.Image.Repository, values.Image.Tag, packaging.DefaultRepository)
	}
	want := packaging.DefaultRepository + ":" + chart.AppVersion
	for _, f := range []string{"deploy/kubernetes/collector.yaml", "deploy/kubernetes/controller.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`image: *(\S+)`).FindAllStringSubmatch(string(b), -1) {
			if m[1] != want {
				t.Errorf("%s runs %s, want %s", f, m[1], want)
			}
		}
	}
	mk, err := os.ReadFile(filepath.Join(root, "mk/dist.mk"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "IMAGE_REPO  ?= "+packaging.DefaultRepository+"\n") ||
		!strings.Contains(string(mk), "IMAGE       ?= $(IMAGE_REPO):$(APP_VERSION)") {
		t.Errorf("mk/dist.mk does not name the image %s:$(APP_VERSION)", packaging.DefaultRepository)
	}
}

// No engine runs here to build the Dockerfile, so its final stage is held to
// what `make image` builds: the same base, files, user, entrypoint and labels.
func TestDockerfileBuildsWhatMakeImageBuilds(t *testing.T) {
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Join continuation lines, then keep the final stage's instructions.
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	all := strings.Join(lines, "\n")
	var final []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			final = nil
		}
		final = append(final, l)
	}
	stage := strings.Join(final, "\n")

	must := func(where, text, what string) {
		t.Helper()
		if !strings.Contains(where, text) {
			t.Errorf("Dockerfile: %s: %q not found", what, text)
		}
	}
	must(stage, "FROM scratch", "empty base")
	must(stage, `ENTRYPOINT ["`+packaging.BinaryPath+`"]`, "entrypoint")
	must(stage, "USER "+packaging.User, "user")
	must(stage, "COPY --from=build /out/opshub "+packaging.BinaryPath, "binary path")
	must(stage, "SSL_CERT_FILE="+packaging.CACertsPath, "CA bundle variable")
	for k, v := range packaging.Labels("${VERSION}", "${REVISION}") {
		must(stage, k+`="`+v+`"`, "label")
	}
	must(all, "cp /etc/ssl/certs/ca-certificates.crt /rootfs"+packaging.CACertsPath, "CA bundle")
	must(all, "chmod 1777 /rootfs/tmp", "/tmp")
	must(all, "--chown=65532:65532 /rootfs"+packaging.DataDir, "data directory owner")
	must(all, "printf '"+strings.ReplaceAll(packaging.Passwd, "\n", `\n`)+"' > /rootfs/etc/passwd", "/etc/passwd")
	must(all, "printf '"+strings.ReplaceAll(packaging.Group, "\n", `\n`)+"' > /rootfs/etc/group", "/etc/group")
	must(all, "CGO_ENABLED=0", "a static binary")
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
