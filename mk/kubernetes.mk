# The Kubernetes control plane the end-to-end suite runs on loopback: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kwok and the CSI
# snapshot-controller, built from pinned modules under tools/ into
# .cache/bin, plus kwok's node and pod stages and the VolumeSnapshot CRDs. The first build takes a long time (kube-apiserver alone 8-17
# minutes on 2 cores); later builds reuse the Go build cache, and make skips
# binaries that are already there.

KWOK_VERSION := v0.8.0
K8S_BINS := $(CACHE_BIN)/etcd $(CACHE_BIN)/kube-apiserver $(CACHE_BIN)/kube-controller-manager \
            $(CACHE_BIN)/kube-scheduler $(CACHE_BIN)/kwok $(CACHE_BIN)/kwok-stages.yaml \
            $(CACHE_BIN)/snapshot-controller $(CACHE_BIN)/snapshot-crds.yaml
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

# The CSI snapshot-controller and the VolumeSnapshot CRDs it serves, both
# from the external-snapshotter modules pinned in tools/snapshotter: the
# CRDs are the client module's config/crd files, concatenated.
SNAPSHOT_CRDS := volumesnapshotclasses volumesnapshotcontents volumesnapshots
$(CACHE_BIN)/snapshot-controller: tools/snapshotter/go.mod
	cd tools/snapshotter && $(GO) build -o $@ github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller

$(CACHE_BIN)/snapshot-crds.yaml: tools/snapshotter/go.mod
	@mkdir -p $(dir $@)
	d=$$(cd tools/snapshotter && $(GO) mod download -json github.com/kubernetes-csi/external-snapshotter/client/v8 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$d" && for f in $(SNAPSHOT_CRDS); do echo "---"; cat $$d/config/crd/snapshot.storage.k8s.io_$$f.yaml; done > $@.tmp && mv $@.tmp $@
