# Helm, pinned in tools/helm, renders and lints the chart in deploy/helm/opshub
# for the chart's tests (deploy/chart_test.go under `make test`,
# test/e2e/helm_test.go under `make e2e`), so both `tools` and `k8s-tools`
# build it. Built into .cache/bin once; the first build takes a few minutes.

.PHONY: helm-tool
helm-tool: $(CACHE_BIN)/helm ## build helm into .cache/bin for the chart tests

tools: $(CACHE_BIN)/helm

$(CACHE_BIN)/helm: tools/helm/go.mod
	cd tools/helm && $(GO) build -o $@ helm.sh/helm/v3/cmd/helm
