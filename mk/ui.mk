# The web UI (issue 16): ui/src is built with the npm packages locked in
# ui/package-lock.json into ui/dist, which is committed and embedded by the
# ui package, so `go build` alone needs neither node nor npm. `make lint`
# rebuilds it and fails when the committed dist/ differs from the source.

UI_NODE_MODULES := ui/node_modules/.package-lock.json

$(UI_NODE_MODULES): ui/package-lock.json ui/package.json
	cd ui && npm ci --no-audit --no-fund
	@touch $@

.PHONY: ui ui-check
ui: $(UI_NODE_MODULES) ## build the web UI (ui/src) into ui/dist
	cd ui && node build.mjs

ui-check: $(UI_NODE_MODULES) ## check that the committed ui/dist is what ui/src builds to
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  (cd ui && node build.mjs $$tmp/dist >/dev/null) && \
	  if ! diff -r ui/dist $$tmp/dist >/dev/null; then \
	    echo "ui/dist differs from a fresh build of ui/src: run 'make ui' and commit ui/dist"; diff -rq ui/dist $$tmp/dist; exit 1; \
	  fi && echo "ui/dist matches ui/src"

lint: ui-check
