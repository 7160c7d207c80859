# The Kubernetes control plane the end-to-end suite runs on loopback: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok, built from
# pinned modules under tools/ into .cache/bin, plus kwok's node and pod
# stages. The first build takes a long time (kube-apiserver alone 8-17
# minutes on 2 cores); later builds reuse the Go build cache, and make skips
# binaries that are already there.

KWOK_VERSION := v0.8.0
K8S_BINS := $(CACHE_BIN)/etcd $(CACHE_BIN)/kube-apiserver $(CACHE_BIN)/kube-controller-manager \
            $(CACHE_BIN)/kube-scheduler $(CACHE_BIN)/kwok $(CACHE_BIN)/kwok-stages.yaml
# The e2e suite may run long on 2 cores: the control plane starts per test.
E2E_TIMEOUT ?= 20m

.PHONY: k8s-tools e2e
k8s-tools: $(K8S_BINS) $(CACHE_BIN)/helm ## build the Kubernetes control plane (and helm, mk/helm.mk) for the e2e suite into .cache/bin

e2e: k8s-tools ## run the end-to-end suite on a real API server, etcd and kwok
	$(GO) test -race -count=1 -timeout $(E2E_TIMEOUT) -tags e2e $(TESTFLAGS) ./test/e2e/...

$(CACHE_BIN)/etcd: tools/etcd/go.mod
	cd tools/etcd && $(GO) build -o $@ go.etcd.io/etcd/server/v3

$(CACHE_BIN)/kube-apiserver $(CACHE_BIN)/kube-controller-manager $(CACHE_BIN)/kube-scheduler: tools/kubernetes/go.mod
	cd tools/kubernetes && $(GO) build -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(CACHE_BIN)/kwok:
	GOBIN=$(CACHE_BIN) $(GO) install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

# kwok's own stages, taken from its module: nodes become Ready and keep a
# heartbeat, pods become Running and Ready, finish, and go when deleted.
KWOK_STAGES := node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
               pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml
$(CACHE_BIN)/kwok-stages.yaml: $(CACHE_BIN)/kwok
	@mkdir -p $(dir $@)
	d=$$(cd / && $(GO) mod download -json sigs.k8s.io/kwok@$(KWOK_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$d" && for f in $(KWOK_STAGES); do echo "---"; cat $$d/kustomize/stage/$$f; done > $@.tmp && mv $@.tmp $@
