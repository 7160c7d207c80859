# Dashboards (issue 17): promtool checks and unit-tests
# dashboards/prometheus/rules.yaml, and a real Prometheus runs every panel's
# query against a running opshub (dashboards/live_test.go). iproute2 and
# util-linux give that test an instance in a network namespace of its own
# (unshare, ip), the only kind whose network series opshub reports on one
# machine.
apt_install prometheus iproute2 util-linux
