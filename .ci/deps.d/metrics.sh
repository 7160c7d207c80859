# Container metrics (issue 5): promtool checks /metrics against Prometheus'
# naming rules, and a real Prometheus scrapes opshub and receives remote write
# in the metrics tests.
apt_install prometheus
