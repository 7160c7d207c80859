# Real servers the sink destination tests talk to (TESTING.md): VictoriaLogs
# receives the loki and elasticsearch sinks, MinIO the s3 sink. rsyslog for
# the syslog sink is a Debian package (.ci/deps.d/sinks.sh). Each binary is
# built once into .cache/bin and rebuilt only when its pin changes.

VICTORIALOGS := $(CACHE_BIN)/victoria-logs
MINIO        := $(CACHE_BIN)/minio

tools: $(VICTORIALOGS) $(MINIO)

$(VICTORIALOGS): tools/victorialogs/go.mod
	cd tools/victorialogs && GOBIN=$(CACHE_BIN) $(GO) install github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs

# The first MinIO build takes several minutes (4 on an idle 2-core machine).
$(MINIO): tools/minio/go.mod
	cd tools/minio && GOBIN=$(CACHE_BIN) $(GO) install github.com/minio/minio
