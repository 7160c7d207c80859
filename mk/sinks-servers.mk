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

# The slow end-to-end check of the sinks' delivery promise: 100k lines
# through loki and elasticsearch sinks into VictoriaLogs, which is stopped
# for 60 s mid-run. About two minutes.
.PHONY: test-sinks-outage
test-sinks-outage: $(VICTORIALOGS) ## 100k lines through loki and elasticsearch with a 60 s outage
	$(GO) test -race -count=1 -tags outage -run TestOutage -timeout 10m ./internal/sinktest/

# CI runs it with the rest of the tests (.ci/run calls `make test` with
# CI set); locally `make test` stays fast and this target runs on demand.
ifneq ($(CI),)
test: test-sinks-outage
endif
