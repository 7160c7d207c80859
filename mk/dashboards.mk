# Grafana dashboards as code (dashboards/): `make dashboards` writes
# dashboards/grafana/*.json from the Go code; the dashboards package's tests
# (under `make test`) fail when the committed JSON differs from a fresh
# generation, lint every panel, unit-test dashboards/prometheus/rules.yaml
# with promtool, and run every panel's query against a real Prometheus
# scraping a running opshub.

.PHONY: dashboards
dashboards: ## generate dashboards/grafana/*.json (and the Helm chart's and kustomize copies) from dashboards/*.go
	$(GO) run ./dashboards/gen -root .
