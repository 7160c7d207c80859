# Alerting: the real Alertmanager that alerting/notify/alertmanager's test
# posts alerts to and reads them back from.
apt_install prometheus-alertmanager
