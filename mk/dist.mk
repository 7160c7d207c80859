# What users install (docs/install.md): the OCI image of opshub for
# linux/amd64 and linux/arm64, built without a container engine by
# build/package (go-containerregistry) on an empty base, and the release
# archives for linux and darwin with their checksums and the packaged chart.
# Everything is written under dist/; the same commit gives the same bytes
# (file and image times are the commit's).

DIST        := $(CURDIR)/dist
# The version without a leading v: the image tag and the chart's appVersion.
APP_VERSION := $(patsubst v%,%,$(VERSION))
IMAGE_REPO  ?= ghcr.io/opshub/opshub
IMAGE       ?= $(IMAGE_REPO):$(APP_VERSION)
IMAGE_PLATFORMS  := linux/amd64 linux/arm64
DIST_PLATFORMS   := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
SOURCE_EPOCH     := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# The chart's own version: the release's when it is semver, else the chart's.
CHART_VERSION    ?= $(shell echo '$(APP_VERSION)' | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+' && echo '$(APP_VERSION)' || sed -n 's/^version: *//p' deploy/helm/opshub/Chart.yaml)

PACKAGE := $(GO) run ./build/package

.PHONY: image image-push dist dist-binaries

# Static binaries, per platform: dist/bin/<os>_<arch>/{opshub,opshub-demo}
# (the demo is what examples/local.yaml runs).
dist-binaries:
	@for p in $(sort $(IMAGE_PLATFORMS) $(DIST_PLATFORMS)); do \
	  os=$${p%/*}; arch=$${p#*/}; echo "go build $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' \
	    -o $(DIST)/bin/$${os}_$${arch}/ ./cmd/opshub ./cmd/opshub-demo || exit 1; \
	done

image: dist-binaries ## OCI image of opshub (linux/amd64, linux/arm64) as an OCI layout in dist/image, named $(IMAGE)
	$(PACKAGE) image --out $(DIST)/image --version $(APP_VERSION) --revision $(REVISION) --created $(SOURCE_EPOCH) \
	  $(foreach p,$(IMAGE_PLATFORMS),--binary $(p)=$(DIST)/bin/$(subst /,_,$(p))/opshub)
	@echo "push it with: make image-push IMAGE=$(IMAGE)"

image-push: ## push dist/image to $(IMAGE) (credentials from ~/.docker/config.json)
	@test -f $(DIST)/image/index.json || { echo "no image in $(DIST)/image: run make image first"; exit 1; }
	$(PACKAGE) push --layout $(DIST)/image $(IMAGE)

dist: dist-binaries $(CACHE_BIN)/helm ## release archives for linux and darwin (amd64, arm64), the chart package and SHA256SUMS in dist/
	$(PACKAGE) archive --out $(DIST) --version $(APP_VERSION) --created $(SOURCE_EPOCH) \
	  $(foreach p,$(DIST_PLATFORMS),--bindir $(p)=$(DIST)/bin/$(subst /,_,$(p))) \
	  --file README.md --file LICENSE --file examples/local.yaml:examples/local.yaml
	$(CACHE_BIN)/helm package deploy/helm/opshub --app-version $(APP_VERSION) --version $(CHART_VERSION) -d $(DIST)
	$(PACKAGE) checksums $(DIST)

# The CNCF distribution registry the image test pushes to and pulls from.
REGISTRY := $(CACHE_BIN)/registry
tools: $(REGISTRY)
$(REGISTRY): tools/registry/go.mod
	cd tools/registry && $(GO) build -o $@ github.com/distribution/distribution/v3/cmd/registry

# The darwin archives carry the client; `make lint` keeps the binary building
# there (Linux-only code goes in _linux.go files, as platform/local does).
.PHONY: cross-check
cross-check: ## check that opshub still builds for darwin (the client binaries of make dist)
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/opshub
lint: cross-check
