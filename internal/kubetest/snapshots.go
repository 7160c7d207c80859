package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// startSnapshotController creates the CRDs of snapshot-crds.yaml (the
// external-snapshotter's, see mk/kubernetes.mk), waits until the API
// serves VolumeSnapshots, and starts snapshot-controller.
func (c *Cluster) startSnapshotController(ctx context.Context) error {
	if err := c.applyCRDs(ctx, filepath.Join(c.bin, "snapshot-crds.yaml")); err != nil {
		return err
	}
	if err := waitFor(ctx, nil, "the VolumeSnapshot API", func() bool {
		res, err := c.Client.Discovery().ServerResourcesForGroupVersion("snapshot.storage.k8s.io/v1")
		return err == nil && slices.ContainsFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Name == "volumesnapshots" })
	}); err != nil {
		return err
	}
	// The group snapshot CRDs are not installed: the controller looks
	// for them only 2s instead of 30s before it starts without them.
	_, err := c.run("snapshot-controller", "--kubeconfig="+c.Kubeconfig, "--leader-election=false",
		"--retry-interval-start=200ms", "--retry-interval-max=2s", "--retry-crd-interval-max=2s", "--v=4")
	return err
}

// applyCRDs creates every CustomResourceDefinition of a multi-document
// YAML file.
func (c *Cluster) applyCRDs(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if _, err := dyn.Resource(crdResource).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
}
