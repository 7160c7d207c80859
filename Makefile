# opshub build, run and test entry points. `make help` lists them.

GO        ?= go
export GOTOOLCHAIN := local
CACHE_BIN := $(CURDIR)/.cache/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/opshub/opshub/internal/buildinfo.Version=$(VERSION) \
             -X github.com/opshub/opshub/internal/buildinfo.Revision=$(REVISION)
CONFIG    ?= examples/local.yaml
# Packages under test; the Kubernetes suite has its own target.
PKGS      ?= ./...
TESTFLAGS ?=

.PHONY: help build run test deps lint fmt tools clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/opshub and bin/opshub-demo
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/opshub ./cmd/opshub-demo

run: build ## build and run opshub on this machine with $(CONFIG)
	./bin/opshub run -c $(CONFIG)

# Tests whose server or tool is missing skip outside CI (sinktest.Missing)
# and are listed at the end, with the command that installs what they need.
SKIPS := $(CURDIR)/bin/.test-skips

test: build ## run the test suite with the race detector; lists what it skipped
	@rm -f $(SKIPS)
	@OPSHUB_SKIPS=$(SKIPS) $(GO) test -race -count=1 $(TESTFLAGS) $(PKGS); status=$$?; \
	if [ -s $(SKIPS) ]; then \
	  echo; echo "Skipped, because what they need is not installed (in CI they fail instead):"; \
	  sort -u $(SKIPS) | sed 's/^/  /'; \
	  echo "Install what they need with: make deps   (apt-get needs root)"; \
	fi; exit $$status

deps: ## install the system packages (.ci/deps.d, apt-get: needs root) and tools (.cache/bin) the tests need
	.ci/install-deps
	$(MAKE) tools

lint: tools ## go vet, gofmt and staticcheck
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(CACHE_BIN)/staticcheck ./...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

tools: $(CACHE_BIN)/staticcheck ## install the tools the checks need into .cache/bin

$(CACHE_BIN)/staticcheck: tools/go.mod
	cd tools && GOBIN=$(CACHE_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck

clean: ## remove build output and local state
	rm -rf bin .opshub

# Each area adds its own tools and targets in mk/<area>.mk (for example a
# real server its tests need, as a prerequisite of `tools`).
-include mk/*.mk
