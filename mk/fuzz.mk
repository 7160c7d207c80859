# Fuzzing (docs/reliability.md). Every parser of outside input has a
# `go test -fuzz` target; `make fuzz` runs each for FUZZTIME, and CI runs a
# short pass of all (.ci/run). `go test` alone runs each target's corpus
# (the package's testdata/fuzz, where a crash found is written) as tests.
FUZZTIME         ?= 60s
FUZZMINIMIZETIME ?= 10s
FUZZFLAGS        ?=
FUZZ_TARGETS := \
	./collector:FuzzParseTimestamp \
	./collector:FuzzParseDockerJSON \
	./collector:FuzzDecoder \
	./collector:FuzzPartialMerge \
	./config:FuzzParse \
	./server:FuzzLogQuery \
	./server:FuzzNodeAPI \
	./outbound:FuzzClassify \
	./sinks:FuzzDecodeRecord \
	./sinks/elasticsearch:FuzzParseBulkResponse \
	./metrics/kubelet:FuzzCAdvisor \
	./metrics/kubelet:FuzzSummary \
	./release/webhook:FuzzRead \
	./release/webhook:FuzzParsePush

.PHONY: fuzz fuzz-list
fuzz: ## run every fuzz target for FUZZTIME each (default 60s); a crash is written to the package's testdata/fuzz
	@failed=""; out=$$(mktemp); for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "== $$name ($$pkg, $(FUZZTIME))"; \
	  if $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $(FUZZFLAGS) $$pkg >$$out 2>&1; \
	  then :; else failed="$$failed $$name"; fi; \
	  grep -v '^fuzz: elapsed' $$out; grep '^fuzz: elapsed' $$out | tail -n 1; \
	done; rm -f $$out; \
	if [ -n "$$failed" ]; then echo "fuzz targets that failed:$$failed"; exit 1; fi

fuzz-list: ## list the fuzz targets make fuzz runs
	@for t in $(FUZZ_TARGETS); do echo "$$t"; done
