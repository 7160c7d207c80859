//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/opshub/opshub/internal/kubetest"
)

// kustomizeBase is the install base, relative to this package.
const kustomizeBase = "../../deploy/kubernetes"

// loadBase reads the resources the base's kustomization.yaml lists. The
// base uses no patches or generators, so its objects are its files.
func loadBase(t *testing.T) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kustomizeBase, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	// Strict: an unknown or duplicate field is an error, not dropped.
	decode := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var out []runtime.Object
	for _, name := range k.Resources {
		b, err := os.ReadFile(filepath.Join(kustomizeBase, name))
		if err != nil {
			t.Fatal(err)
		}
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

func describe(obj runtime.Object) string {
	m := obj.(metav1.Object)
	return fmt.Sprintf("%T %s/%s", obj, m.GetNamespace(), m.GetName())
}

func TestKustomizeBaseAppliesWithServerSideDryRun(t *testing.T) {
	objs := loadBase(t)

	t.Run("RBAC names every verb and resource", func(t *testing.T) {
		for _, obj := range objs {
			var rules []rbacv1.PolicyRule
			switch o := obj.(type) {
			case *rbacv1.ClusterRole:
				rules = o.Rules
			case *rbacv1.Role:
				rules = o.Rules
			}
			for _, r := range rules {
				if slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
					t.Errorf("%s has a wildcard rule: %+v", describe(obj), r)
				}
			}
		}
	})
	t.Run("the workloads are shaped for production", func(t *testing.T) {
		var kinds []string
		for _, obj := range objs {
			switch o := obj.(type) {
			case *appsv1.DaemonSet:
				kinds = append(kinds, "DaemonSet")
				tolerAll := slices.ContainsFunc(o.Spec.Template.Spec.Tolerations, func(tl corev1.Toleration) bool {
					return tl.Key == "" && tl.Operator == corev1.TolerationOpExists
				})
				if !tolerAll {
					t.Errorf("collector does not tolerate every taint: %+v", o.Spec.Template.Spec.Tolerations)
				}
				checkContainers(t, "collector", o.Spec.Template.Spec.Containers)
			case *appsv1.Deployment:
				kinds = append(kinds, "Deployment")
				if o.Spec.Replicas == nil || *o.Spec.Replicas != 2 {
					t.Errorf("controller replicas = %v, want 2", o.Spec.Replicas)
				}
				checkContainers(t, "controller", o.Spec.Template.Spec.Containers)
			case *policyv1.PodDisruptionBudget:
				kinds = append(kinds, "PodDisruptionBudget")
			case *corev1.Service:
				kinds = append(kinds, "Service")
			}
		}
		slices.Sort(kinds)
		if !slices.Equal(kinds, []string{"DaemonSet", "Deployment", "PodDisruptionBudget", "Service"}) {
			t.Errorf("workload kinds = %v", kinds)
		}
	})
	t.Run("every object is admitted by the API server", func(t *testing.T) {
		c := kubetest.Start(t, kubetest.Options{})
		ctx := context.Background()
		// Namespaced objects need their namespace to exist, so the
		// namespace is created for real and everything else dry-run.
		for _, obj := range objs {
			if _, ok := obj.(*corev1.Namespace); ok {
				if err := create(ctx, c.Client, obj, false); err != nil {
					t.Fatalf("%s: %v", describe(obj), err)
				}
			}
		}
		for _, obj := range objs {
			if _, ok := obj.(*corev1.Namespace); ok {
				continue
			}
			if err := create(ctx, c.Client, obj, true); err != nil {
				t.Errorf("%s: %v", describe(obj), err)
			}
		}
	})
}

func checkContainers(t *testing.T, what string, cs []corev1.Container) {
	t.Helper()
	for _, c := range cs {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
			c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s container %s lacks requests or limits: %+v", what, c.Name, c.Resources)
		}
		if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s container %s has a writable root filesystem", what, c.Name)
		}
	}
}
