# Real servers the sink destination tests talk to (TESTING.md): VictoriaLogs
# receives the loki and elasticsearch sinks, MinIO the s3 sink. rsyslog for
# the syslog sink is a Debian package (.ci/deps.d/sinks.sh). Each binary is
# built once into .cache/bin and rebuilt only when its pin changes.

VICTORIALOGS := $(CACHE_BIN)/victoria-logs

tools: $(VICTORIALOGS)

$(VICTORIALOGS): tools/victorialogs/go.mod
	cd tools/victorialogs && GOBIN=$(CACHE_BIN) $(GO) install github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs
