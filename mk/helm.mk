# Helm, pinned in tools/helm, renders and lints the chart in deploy/helm/opshub
# for the chart's tests (deploy/chart_test.go under `make test`,
# test/e2e/helm_test.go under `make e2e`), so both `tools` and `k8s-tools`
# build it. Built into .cache/bin once; the first build takes a few minutes
# (14 on 2 busy cores, about 3 idle).

HELM_VERSION := v3.22.0
# As Helm's own release build: the version it reports, and the Kubernetes
# version (its client-go's, 1.37) that `helm template` assumes and `helm lint`
# checks API deprecations against; without these it assumes 1.20.
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
                -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 \
                -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37

.PHONY: helm-tool
helm-tool: $(CACHE_BIN)/helm ## build helm into .cache/bin for the chart tests

tools: $(CACHE_BIN)/helm

$(CACHE_BIN)/helm: tools/helm/go.mod mk/helm.mk
	cd tools/helm && $(GO) build -ldflags '$(HELM_LDFLAGS)' -o $@ helm.sh/helm/v3/cmd/helm
