//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/kubetest"
	kube "github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/store"
	"github.com/opshub/opshub/store/kubestate"
)

// kustomizeBase is the install base, relative to this package.
const kustomizeBase = "../../deploy/kubernetes"

// installNamespace is where both the base and the chart (with --namespace)
// install opshub.
const installNamespace = "opshub"

// loadBase reads the objects `kustomize build deploy/kubernetes` prints. The
// base lists plain resources and nothing kustomize would transform (no
// patches, generators, name prefixes or common labels), so its objects are
// exactly its files' documents; a kustomization.yaml with any other field
// fails here rather than being read unfaithfully.
func loadBase(t *testing.T) []runtime.Object {
	t.Helper()
	return loadKustomization(t, kustomizeBase, "kustomize.config.k8s.io/v1beta1", "Kustomization")
}

// loadKustomization reads the objects of the plain resources that the
// kustomization.yaml in dir lists, which must be of the given kind.
func loadKustomization(t *testing.T, dir, apiVersion, kind string) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v (a field that transforms the resources is not modelled here; render with kustomize instead)", dir, err)
	}
	if k.APIVersion != apiVersion || k.Kind != kind {
		t.Fatalf("%s/kustomization.yaml is a %s %s, want a %s %s", dir, k.APIVersion, k.Kind, apiVersion, kind)
	}
	var out []runtime.Object
	for _, name := range k.Resources {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodeDocuments(t, name, b)...)
	}
	return out
}

// decodeDocuments decodes a multi-document YAML stream into typed objects.
// Decoding is strict: an unknown or duplicate field is an error, not dropped.
func decodeDocuments(t *testing.T, name string, b []byte) []runtime.Object {
	t.Helper()
	decode := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var out []runtime.Object
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if regexp.MustCompile(`(?m)^\s*[a-zA-Z]`).FindString(doc) == "" {
			continue // comments only
		}
		obj, _, err := decode.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%s, document %d: %v", name, i+1, err)
		}
		out = append(out, obj)
	}
	return out
}

// create submits obj; with dryRun the API server validates and admits it
// (defaulting, validation, RBAC escalation checks) without storing it.
func create(ctx context.Context, c k8s.Interface, obj runtime.Object, dryRun bool) error {
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = c.CoreV1().Namespaces().Create(ctx, o, opts)
	case *corev1.ServiceAccount:
		_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *corev1.ConfigMap:
		_, err = c.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, opts)
	case *corev1.Service:
		_, err = c.CoreV1().Services(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.ClusterRole:
		_, err = c.RbacV1().ClusterRoles().Create(ctx, o, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
	case *rbacv1.Role:
		_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.RoleBinding:
		_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, opts)
	case *appsv1.DaemonSet:
		_, err = c.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, opts)
	case *appsv1.Deployment:
		_, err = c.AppsV1().Deployments(o.Namespace).Create(ctx, o, opts)
	case *policyv1.PodDisruptionBudget:
		_, err = c.PolicyV1().PodDisruptionBudgets(o.Namespace).Create(ctx, o, opts)
	default:
		return fmt.Errorf("no test support for %T", obj)
	}
	return err
}

// applyAll creates the objects' namespace for real, then every other object
// with a server-side dry run, or for real when dryRun is false.
func applyAll(t *testing.T, c k8s.Interface, objs []runtime.Object, dryRun bool) {
	t.Helper()
	ctx := context.Background()
	// Namespaced objects need their namespace to exist even in a dry run.
	for _, obj := range objs {
		if _, ok := obj.(*corev1.Namespace); ok {
			if err := create(ctx, c, obj, false); err != nil {
				t.Fatalf("%s: %v", describe(obj), err)
			}
		}
	}
	for _, obj := range objs {
		if _, ok := obj.(*corev1.Namespace); ok {
			continue
		}
		if err := create(ctx, c, obj, dryRun); err != nil {
			t.Errorf("%s: %v", describe(obj), err)
		}
	}
}

func describe(obj runtime.Object) string {
	m := obj.(metav1.Object)
	return fmt.Sprintf("%T %s/%s", obj, m.GetNamespace(), m.GetName())
}

// objectKey names an object as kubectl does: kind, namespace and name.
func objectKey(obj runtime.Object) string {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*")
	m := obj.(metav1.Object)
	return kind + " " + m.GetNamespace() + "/" + m.GetName()
}

// wantObjects is what an install consists of, in the base and in the chart.
var wantObjects = []string{
	"v1.ClusterRole /opshub-collector",
	"v1.ClusterRole /opshub-controller",
	"v1.ClusterRoleBinding /opshub-collector",
	"v1.ClusterRoleBinding /opshub-controller",
	"v1.ConfigMap opshub/opshub-config",
	"v1.DaemonSet opshub/opshub-collector",
	"v1.Deployment opshub/opshub-controller",
	"v1.Namespace /opshub",
	"v1.PodDisruptionBudget opshub/opshub-controller",
	"v1.Role opshub/opshub-collector",
	"v1.Role opshub/opshub-controller",
	"v1.RoleBinding opshub/opshub-collector",
	"v1.RoleBinding opshub/opshub-controller",
	"v1.Service opshub/opshub",
	"v1.ServiceAccount opshub/opshub-collector",
	"v1.ServiceAccount opshub/opshub-controller",
}

// checkShape asserts what every install must hold, whoever renders it.
func checkShape(t *testing.T, objs []runtime.Object) {
	t.Run("the install has every object, once", func(t *testing.T) {
		var keys []string
		for _, obj := range objs {
			keys = append(keys, objectKey(obj))
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantObjects) {
			t.Errorf("objects:\n  %s\nwant:\n  %s", strings.Join(keys, "\n  "), strings.Join(wantObjects, "\n  "))
		}
	})
	t.Run("RBAC names every verb and resource", func(t *testing.T) {
		for _, obj := range objs {
			var rules []rbacv1.PolicyRule
			switch o := obj.(type) {
			case *rbacv1.ClusterRole:
				rules = o.Rules
				if o.AggregationRule != nil {
					t.Errorf("%s aggregates other roles", describe(obj))
				}
			case *rbacv1.Role:
				rules = o.Rules
			}
			for _, r := range rules {
				for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups, r.NonResourceURLs, r.ResourceNames} {
					if slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "*") }) {
						t.Errorf("%s has a wildcard rule: %+v", describe(obj), r)
					}
				}
			}
		}
	})
	t.Run("the workloads are shaped for production", func(t *testing.T) {
		for _, obj := range objs {
			switch o := obj.(type) {
			case *appsv1.DaemonSet:
				spec := o.Spec.Template.Spec
				tolerAll := slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
					return tl.Key == "" && tl.Operator == corev1.TolerationOpExists && tl.Effect == ""
				})
				if !tolerAll {
					t.Errorf("collector does not tolerate every taint: %+v", spec.Tolerations)
				}
				checkContainers(t, "collector", spec.Containers, "node-api", 7421)
				c := spec.Containers[0]
				for _, name := range []string{"NODE_NAME", "NODE_IP", "POD_NAME", "POD_NAMESPACE", "POD_IP"} {
					if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil }) {
						t.Errorf("collector lacks %s from the downward API", name)
					}
				}
				logs := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/log/pods" })
				if logs < 0 || !c.VolumeMounts[logs].ReadOnly {
					t.Errorf("collector does not mount /var/log/pods read-only: %+v", c.VolumeMounts)
				}
				if sc := c.SecurityContext; sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
					sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Privileged != nil && *sc.Privileged {
					t.Errorf("collector keeps capabilities or may escalate: %+v", sc)
				}
			case *appsv1.Deployment:
				spec := o.Spec.Template.Spec
				if o.Spec.Replicas == nil || *o.Spec.Replicas != 2 {
					t.Errorf("controller replicas = %v, want 2", o.Spec.Replicas)
				}
				if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil ||
					len(spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
					t.Errorf("controller replicas do not prefer different nodes: %+v", spec.Affinity)
				}
				if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
					t.Errorf("controller may run as root: %+v", sc)
				}
				checkContainers(t, "controller", spec.Containers, "http", 7420)
				for _, name := range []string{"POD_NAME", "POD_NAMESPACE"} {
					if !slices.ContainsFunc(spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == name && e.ValueFrom != nil }) {
						t.Errorf("controller lacks %s from the downward API", name)
					}
				}
			case *policyv1.PodDisruptionBudget:
				if o.Spec.MinAvailable == nil || o.Spec.MinAvailable.IntValue() != 1 {
					t.Errorf("controller PodDisruptionBudget minAvailable = %v, want 1", o.Spec.MinAvailable)
				}
			case *corev1.Service:
				if len(o.Spec.Ports) != 1 || o.Spec.Ports[0].Port != 7420 {
					t.Errorf("service ports = %+v, want 7420", o.Spec.Ports)
				}
			}
		}
	})
}

func checkContainers(t *testing.T, what string, cs []corev1.Container, port string, number int32) {
	t.Helper()
	if len(cs) != 1 {
		t.Fatalf("%s has %d containers, want 1", what, len(cs))
	}
	c := cs[0]
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
		c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s container %s lacks requests or limits: %+v", what, c.Name, c.Resources)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s container %s has a writable root filesystem", what, c.Name)
	}
	if !strings.HasPrefix(c.Image, "ghcr.io/opshub/opshub:") {
		t.Errorf("%s image = %q", what, c.Image)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == port && p.ContainerPort == number }) {
		t.Errorf("%s does not expose %s on %d: %+v", what, port, number, c.Ports)
	}
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != port {
			t.Errorf("%s lacks a %s probe on %s port %s: %+v", what, p.kind, p.path, port, p.probe)
		}
	}
}

func TestKustomizeBaseAppliesWithServerSideDryRun(t *testing.T) {
	objs := loadBase(t)
	checkShape(t, objs)
	t.Run("every object is admitted by the API server", func(t *testing.T) {
		c := kubetest.Start(t, kubetest.Options{})
		applyAll(t, c.Client, objs, true)
	})
}

func TestKustomizeBaseRBACAllowsWhatOpshubNeedsAndNoMore(t *testing.T) {
	objs := loadBase(t)
	c := kubetest.Start(t, kubetest.Options{})
	applyAll(t, c.Client, objs, false)
	if t.Failed() {
		t.FailNow()
	}
	checkRBAC(t, c)
}

// access is one question to the authorizer: may the account do verb on
// resource (with subresource), in namespace ns ("" for cluster-wide), to the
// object called name ("" for any)?
type access struct {
	verb, group, resource, subresource, ns, name string
}

func (a access) String() string {
	s := a.verb + " " + a.resource
	if a.group != "" {
		s += "." + a.group
	}
	if a.subresource != "" {
		s += "/" + a.subresource
	}
	if a.name != "" {
		s += " " + a.name
	}
	if a.ns == "" {
		return s + " (cluster-wide)"
	}
	return s + " in " + a.ns
}

// The namespace of the workloads opshub watches in these checks.
const appNamespace = "shop"

// The accounts' needs (docs/kubernetes.md, "Install") and a sample of what
// they must not be able to do.
var (
	controllerMay = []access{
		{verb: "watch", resource: "pods"}, {verb: "list", resource: "events"},
		{verb: "list", resource: "nodes"}, {verb: "watch", resource: "persistentvolumeclaims"},
		{verb: "list", resource: "namespaces"},
		{verb: "watch", group: "apps", resource: "deployments"},
		{verb: "patch", group: "apps", resource: "deployments", ns: appNamespace, name: "web"},
		{verb: "patch", group: "apps", resource: "statefulsets", ns: appNamespace, name: "db"},
		{verb: "update", group: "apps", resource: "deployments", ns: appNamespace, name: "web"},
		{verb: "update", group: "apps", resource: "statefulsets", ns: appNamespace, name: "db"},
		{verb: "list", group: "apps", resource: "replicasets"},
		{verb: "list", group: "apps", resource: "controllerrevisions", ns: appNamespace},
		{verb: "update", group: "apps", resource: "deployments", subresource: "scale", ns: appNamespace, name: "web"},
		{verb: "patch", group: "apps", resource: "statefulsets", subresource: "scale", ns: appNamespace, name: "db"},
		{verb: "watch", group: "batch", resource: "jobs"}, {verb: "list", group: "batch", resource: "cronjobs"},
		{verb: "create", group: "batch", resource: "jobs", ns: appNamespace}, {verb: "delete", group: "batch", resource: "jobs", ns: appNamespace},
		{verb: "get", resource: "pods", subresource: "log", ns: appNamespace},
		{verb: "create", group: "snapshot.storage.k8s.io", resource: "volumesnapshots", ns: appNamespace},
		{verb: "get", group: "snapshot.storage.k8s.io", resource: "volumesnapshots", ns: appNamespace, name: "ship-backup-1-data"},
		{verb: "delete", group: "snapshot.storage.k8s.io", resource: "volumesnapshots", ns: appNamespace, name: "ship-backup-1-data"},
		{verb: "get", group: "snapshot.storage.k8s.io", resource: "volumesnapshotclasses", name: "csi-snapclass"},
		{verb: "watch", group: "autoscaling", resource: "horizontalpodautoscalers"},
		{verb: "watch", group: "coordination.k8s.io", resource: "leases", ns: installNamespace},
		{verb: "create", group: "coordination.k8s.io", resource: "leases", ns: installNamespace},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", ns: installNamespace, name: "opshub-controller"},
		{verb: "create", resource: "secrets", ns: installNamespace},
		{verb: "get", resource: "secrets", ns: installNamespace, name: "opshub-state"},
		{verb: "update", resource: "secrets", ns: installNamespace, name: "opshub-state-64"},
		{verb: "delete", resource: "secrets", ns: installNamespace, name: "opshub-state-3"},
	}
	controllerMayNot = []access{
		{verb: "list", resource: "secrets"}, {verb: "list", resource: "secrets", ns: installNamespace},
		{verb: "get", resource: "secrets", ns: installNamespace, name: "opshub-controller-token"},
		{verb: "get", resource: "secrets", ns: "kube-system", name: "opshub-state"},
		{verb: "update", resource: "secrets", ns: installNamespace, name: "opshub-state-65"},
		{verb: "delete", resource: "pods", ns: appNamespace}, {verb: "create", resource: "pods", ns: appNamespace},
		{verb: "create", resource: "pods", subresource: "exec", ns: appNamespace},
		{verb: "create", group: "apps", resource: "deployments", ns: appNamespace},
		{verb: "delete", group: "apps", resource: "deployments", ns: appNamespace, name: "web"},
		{verb: "update", group: "apps", resource: "controllerrevisions", ns: appNamespace},
		{verb: "patch", group: "apps", resource: "replicasets", ns: appNamespace},
		{verb: "patch", group: "apps", resource: "daemonsets", ns: appNamespace},
		{verb: "update", group: "batch", resource: "jobs", ns: appNamespace}, {verb: "create", group: "batch", resource: "cronjobs", ns: appNamespace},
		{verb: "update", group: "snapshot.storage.k8s.io", resource: "volumesnapshots", ns: appNamespace, name: "ship-backup-1-data"},
		{verb: "create", group: "snapshot.storage.k8s.io", resource: "volumesnapshotcontents"},
		{verb: "delete", group: "snapshot.storage.k8s.io", resource: "volumesnapshotclasses", name: "csi-snapclass"},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", ns: installNamespace, name: "opshub-collector-" + kubetest.NodeName},
		{verb: "create", group: "coordination.k8s.io", resource: "leases", ns: "kube-system"},
		{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"},
		{verb: "get", resource: "nodes", subresource: "proxy", name: kubetest.NodeName},
		{verb: "update", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "opshub-controller"},
	}
	collectorMay = []access{
		{verb: "get", resource: "pods", ns: appNamespace}, {verb: "list", resource: "pods"}, {verb: "watch", resource: "pods"},
		{verb: "get", resource: "nodes", subresource: "metrics", name: kubetest.NodeName},
		{verb: "get", resource: "nodes", subresource: "stats", name: kubetest.NodeName},
		{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"},
		{verb: "get", group: "coordination.k8s.io", resource: "leases", ns: installNamespace, name: "opshub-collector-" + kubetest.NodeName},
		{verb: "create", group: "coordination.k8s.io", resource: "leases", ns: installNamespace},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", ns: installNamespace, name: "opshub-collector-" + kubetest.NodeName},
	}
	collectorMayNot = []access{
		{verb: "list", resource: "secrets"}, {verb: "get", resource: "secrets", ns: installNamespace, name: "opshub-state"},
		{verb: "delete", resource: "pods", ns: appNamespace}, {verb: "create", resource: "pods", subresource: "exec", ns: appNamespace},
		{verb: "get", resource: "nodes", name: kubetest.NodeName}, {verb: "patch", resource: "nodes", name: kubetest.NodeName},
		{verb: "get", resource: "nodes", subresource: "proxy", name: kubetest.NodeName},
		{verb: "create", resource: "nodes", subresource: "proxy", name: kubetest.NodeName},
		{verb: "get", resource: "nodes", subresource: "log", name: kubetest.NodeName},
		{verb: "list", group: "coordination.k8s.io", resource: "leases", ns: installNamespace},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", ns: "kube-system", name: "kube-scheduler"},
		{verb: "list", group: "apps", resource: "deployments"},
		{verb: "update", group: "apps", resource: "deployments", subresource: "scale", ns: appNamespace, name: "web"},
	}
)

// serviceAccountUser is the user name Kubernetes gives a ServiceAccount.
func serviceAccountUser(name string) string {
	return "system:serviceaccount:" + installNamespace + ":" + name
}

// as returns a client that acts as the install's ServiceAccount name.
func as(t *testing.T, c *kubetest.Cluster, name string) k8s.Interface {
	t.Helper()
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccountUser(name)}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// checkRBAC asks the API server, as each of the install's ServiceAccounts,
// what it may do, and then runs opshub's own cluster-mode parts with those
// accounts: the collector's Lease, pod watch and review of the controller's
// token; the controller's watch of the cluster and of the collector Leases,
// leader election, state Secrets, scaling and a rollout.
func checkRBAC(t *testing.T, c *kubetest.Cluster) {
	ctx := context.Background()
	c.Namespace(t, appNamespace)
	controller := as(t, c, "opshub-controller")
	collector := as(t, c, "opshub-collector")

	t.Run("each account may do what it needs and no more", func(t *testing.T) {
		for _, tc := range []struct {
			account string
			client  k8s.Interface
			checks  []access
			allowed bool
		}{
			{"controller", controller, controllerMay, true},
			{"controller", controller, controllerMayNot, false},
			{"collector", collector, collectorMay, true},
			{"collector", collector, collectorMayNot, false},
		} {
			for _, a := range tc.checks {
				review, err := tc.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
					Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
						Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.ns, Name: a.name,
					}},
				}, metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("%s: access review of %s: %v", tc.account, a, err)
				}
				if review.Status.Allowed != tc.allowed {
					t.Errorf("%s may %s: %v, want %v", tc.account, a, review.Status.Allowed, tc.allowed)
				}
			}
		}
	})

	t.Run("the collector registers and the controller sees it", func(t *testing.T) {
		reg, err := kube.NewRegistration(kube.RegistrationOptions{
			Client: collector, Namespace: installNamespace, Node: kubetest.NodeName, URL: "http://10.0.0.9:7421",
		})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // creates the Lease, then renews it
			if err := reg.Renew(ctx); err != nil {
				t.Fatalf("the collector's Lease: %v", err)
			}
		}
		watch, err := kube.NewCollectorWatch(controller, installNamespace, nil)
		if err != nil {
			t.Fatal(err)
		}
		runFor(t, watch.Run, func() bool {
			live := watch.Live()
			return len(live) == 1 && live[0].Node == kubetest.NodeName
		}, "the controller lists the collector")

		lease, err := controller.CoordinationV1().Leases(installNamespace).Get(ctx, kube.CollectorLeasePrefix+kubetest.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := controller.CoordinationV1().Leases(installNamespace).Update(ctx, lease, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("the controller updates the collector's Lease: %v, want forbidden", err)
		}
	})

	t.Run("the collector watches its node's pods", func(t *testing.T) {
		pods, err := kube.NewNodePods(kube.NodePodsOptions{Client: collector, Node: kubetest.NodeName})
		if err != nil {
			t.Fatal(err)
		}
		runFor(t, pods.Run, pods.Ready, "the collector's pod watch syncs")
	})

	t.Run("the collector checks the controller's token", func(t *testing.T) {
		// The controller's token, as its pod has it mounted.
		token, err := c.Client.CoreV1().ServiceAccounts(installNamespace).CreateToken(ctx, "opshub-controller", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("token for the controller: %v", err)
		}
		reviewer, err := kube.NewTokenReviewer(kube.TokenReviewerOptions{Client: collector, Allowed: []string{kube.ControllerIdentity(installNamespace)}})
		if err != nil {
			t.Fatal(err)
		}
		who, allowed, err := reviewer.Review(ctx, token.Status.Token)
		if err != nil || !allowed || who != serviceAccountUser("opshub-controller") {
			t.Errorf("review of the controller's token: %q, allowed %v, %v", who, allowed, err)
		}
	})

	t.Run("the controller watches the cluster", func(t *testing.T) {
		plat, err := kube.New(kube.Options{Client: controller})
		if err != nil {
			t.Fatal(err)
		}
		runFor(t, func(ctx context.Context) error { return plat.Run(ctx, 1) }, plat.Ready, "the controller's caches fill")
	})

	t.Run("the controller is elected", func(t *testing.T) {
		elector, err := kube.NewElector(kube.LeaderOptions{
			Client: controller, Namespace: installNamespace, Name: app.ControllerLease, Identity: "opshub-controller-0",
			LeaseDuration: 4 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		runFor(t, func(ctx context.Context) error {
			return elector.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return nil })
		}, elector.Leading, "the controller leads")
	})

	t.Run("the controller keeps its state in the state Secrets", func(t *testing.T) {
		// Random bytes do not compress: 2 MiB take 3 chunk Secrets.
		big := make([]byte, 2<<20)
		_, _ = rand.Read(big)
		snapshots := [][]byte{big, slices.Concat(big[1:], big[:1]), []byte("small")}
		replica := kubestate.New(controller, installNamespace, "")
		if _, err := replica.Load(ctx); err != nil {
			t.Fatalf("load: %v", err)
		}
		for i, snap := range snapshots {
			// Each save writes new chunks and deletes the previous ones.
			if _, err := replica.Append(ctx, []store.Record{{Seq: uint64(i + 1), Data: []byte("record")}}); err != nil {
				t.Fatalf("append %d: %v", i+1, err)
			}
			if _, err := replica.Checkpoint(ctx, snap, uint64(i+1)); err != nil {
				t.Fatalf("checkpoint %d: %v", i+1, err)
			}
			got, err := kubestate.New(controller, installNamespace, "").Load(ctx)
			if err != nil || !bytes.Equal(got.Snapshot, snap) {
				t.Fatalf("load after checkpoint %d: %d bytes, %v; want %d bytes", i+1, len(got.Snapshot), err, len(snap))
			}
		}
		secrets, err := c.Client.CoreV1().Secrets(installNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets.Items {
			if strings.HasPrefix(s.Name, kubestate.DefaultName+"-") {
				t.Errorf("chunk %s was not deleted", s.Name)
			}
		}

		own := controller.CoreV1().Secrets(installNamespace)
		if _, err := c.Client.CoreV1().Secrets(installNamespace).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := own.Get(ctx, "someone-elses", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("read another secret: %v, want forbidden", err)
		}
		if _, err := own.List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("list secrets: %v, want forbidden", err)
		}
	})

	t.Run("the controller scales and rolls out", func(t *testing.T) {
		replicas := int32(1)
		labels := map[string]string{"app": "web"}
		_, err := c.Client.AppsV1().Deployments(appNamespace).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		deployments := controller.AppsV1().Deployments(appNamespace)
		// The deployment controller writes web's status meanwhile, so writes
		// may meet a conflict and are retried, as platform/kubernetes does.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			scale, err := deployments.GetScale(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			scale.Spec.Replicas = 3
			_, err = deployments.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Errorf("scale web: %v", err)
		}
		// A rollout writes the pod template.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			web, err := deployments.Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			web.Spec.Template.Spec.Containers[0].Image = "web:2"
			_, err = deployments.Update(ctx, web, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Errorf("roll out web:2: %v", err)
		}
		web, err := c.Client.AppsV1().Deployments(appNamespace).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *web.Spec.Replicas != 3 || web.Spec.Template.Spec.Containers[0].Image != "web:2" {
			t.Errorf("web after scaling and rollout: %d replicas of %s, want 3 of web:2", *web.Spec.Replicas, web.Spec.Template.Spec.Containers[0].Image)
		}
		if err := deployments.Delete(ctx, "web", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("delete web: %v, want forbidden", err)
		}
		if err := controller.CoreV1().Pods(appNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("delete web's pods: %v, want forbidden", err)
		}
	})
}

// runFor runs run until done holds, then stops it and checks that it ended
// without an error. It fails the test when done does not hold within a
// minute.
func runFor(t *testing.T, run func(context.Context) error, done func() bool, what string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan error, 1)
	go func() { ended <- run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for !done() {
		select {
		case err := <-ended:
			t.Fatalf("%s: ended early: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
	cancel()
	// A watch stopped before it noticed its sync says so; that is no failure.
	if err := <-ended; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("%s: %v", what, err)
	}
}
