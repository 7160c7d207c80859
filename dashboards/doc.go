// Package dashboards holds opshub's Grafana dashboards as code, built with
// the Grafana Foundation SDK and written to dashboards/grafana/*.json by
// `make dashboards` (go run ./dashboards/gen). Every query uses series that
// opshub's /metrics exposes; the package's tests lint the committed JSON,
// check that it matches a fresh generation, unit-test the Prometheus rules
// in dashboards/prometheus with promtool, and run every panel's query
// against a real Prometheus scraping a running opshub.
//
// It must not import the product's packages (other than model for names):
// dashboards describe /metrics, they do not run opshub.
package dashboards
