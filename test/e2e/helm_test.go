//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/opshub/opshub/internal/kubetest"
)

// chartDir is the Helm chart, relative to this package.
const chartDir = "../../deploy/helm/opshub"

// helmOnly are the labels and annotations only the chart sets: they say that
// Helm manages an object (and keep the namespace when the release is
// uninstalled). Everything else must be equal in the chart and the base.
var (
	helmOnlyLabels      = []string{"helm.sh/chart", "app.kubernetes.io/managed-by"}
	helmOnlyAnnotations = []string{"helm.sh/resource-policy"}
)

// helm runs helm (kubetest.Helm) and returns its standard output; its
// standard error is in the error.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := kubetest.Helm(t, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// renderChart returns the objects of `helm template opshub deploy/helm/opshub
// --namespace opshub` with extra arguments (values).
func renderChart(t *testing.T, args ...string) []runtime.Object {
	t.Helper()
	out, err := helm(t, append([]string{"template", "opshub", chartDir, "--namespace", installNamespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeDocuments(t, "helm template", out)
}

// comparable returns obj as indented JSON without what only the chart sets,
// and with the opshub config in the ConfigMap as data rather than text (the
// chart writes the YAML of its values, so keys are sorted and comments gone).
func comparable(t *testing.T, obj runtime.Object) string {
	t.Helper()
	obj = obj.DeepCopyObject()
	m := obj.(metav1.Object)
	labels, annotations := m.GetLabels(), m.GetAnnotations()
	for _, k := range helmOnlyLabels {
		delete(labels, k)
	}
	for _, k := range helmOnlyAnnotations {
		delete(annotations, k)
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	m.SetLabels(labels)
	m.SetAnnotations(annotations)
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		for k, v := range cm.Data {
			var data any
			if err := yaml.Unmarshal([]byte(v), &data); err != nil {
				t.Fatalf("%s: %s: %v", describe(obj), k, err)
			}
			b, err := json.Marshal(data)
			if err != nil {
				t.Fatal(err)
			}
			cm.Data[k] = string(b)
		}
	}
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstDifference shows where two texts part, with a few lines of context.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	from := max(0, i-4)
	context := func(l []string) string { return strings.Join(l[from:min(len(l), i+3)], "\n") }
	return fmt.Sprintf("line %d:\n--- kustomize:\n%s\n--- helm:\n%s", i+1, context(al), context(bl))
}

func TestHelmChartRendersTheKustomizeBase(t *testing.T) {
	chart := renderChart(t)
	checkShape(t, chart)
	sameObjects(t, loadBase(t), chart)
}

// sameObjects checks that the chart rendered exactly the kustomize objects,
// equal but for what only Helm sets.
func sameObjects(t *testing.T, kustomize, chart []runtime.Object) {
	t.Helper()
	base := map[string]string{}
	for _, obj := range kustomize {
		base[objectKey(obj)] = comparable(t, obj)
	}
	for _, obj := range chart {
		key := objectKey(obj)
		want, ok := base[key]
		if !ok {
			t.Errorf("the chart renders %s, which the base lacks", key)
			continue
		}
		delete(base, key)
		if got := comparable(t, obj); got != want {
			t.Errorf("%s differs, at %s", key, firstDifference(want, got))
		}
		labels := obj.(metav1.Object).GetLabels()
		if labels["app.kubernetes.io/managed-by"] != "Helm" || !strings.HasPrefix(labels["helm.sh/chart"], "opshub-") {
			t.Errorf("%s lacks Helm's labels: %v", key, labels)
		}
	}
	for key := range base {
		t.Errorf("the chart lacks %s", key)
	}
}

// customValues change every value the chart offers.
var customValues = []string{
	"--set", "image.repository=registry.example.com/opshub",
	"--set", "image.tag=0.2.0-rc.1",
	"--set", "image.pullPolicy=Always",
	"--set", "imagePullSecrets[0].name=regcred",
	"--set", "namespace.create=false",
	"--set", "config.alerts.crashLoop.restarts=5",
	"--set", "collector.resources.limits.memory=1Gi",
	"--set", "collector.tolerations[0].key=dedicated",
	"--set", "collector.tolerations[0].operator=Exists",
	"--set", "collector.nodeSelector.kubernetes\\.io/os=linux",
	"--set", "collector.priorityClassName=system-node-critical",
	"--set", "collector.extraEnv[0].name=GOMEMLIMIT",
	"--set", "collector.extraEnv[0].value=900MiB",
	"--set", "controller.replicas=3",
	"--set", "controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=kubernetes.io/os",
	"--set", "controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=In",
	"--set", "controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]=linux",
	"--set", "controller.extraEnv[0].name=OPSHUB_LOG_LEVEL",
	"--set", "controller.extraEnv[0].value=debug",
	"--set", "controller.extraVolumes[0].name=tokens",
	"--set", "controller.extraVolumes[0].secret.secretName=opshub-tokens",
	"--set", "controller.extraVolumeMounts[0].name=tokens",
	"--set", "controller.extraVolumeMounts[0].mountPath=/etc/opshub-tokens",
	"--set", "controller.extraVolumeMounts[0].readOnly=true",
	"--set", "controller.podDisruptionBudget.enabled=false",
	"--set", "service.type=NodePort",
	"--set", "service.port=80",
}

func TestHelmChartAppliesWithServerSideDryRun(t *testing.T) {
	defaults := renderChart(t)
	custom := renderChart(t, customValues...)

	t.Run("values reach the objects", func(t *testing.T) {
		var seen int
		for _, obj := range custom {
			switch o := obj.(type) {
			case *corev1.Namespace:
				t.Errorf("namespace.create=false still renders the namespace")
			case *appsv1.DaemonSet:
				seen++
				spec := o.Spec.Template.Spec
				c := spec.Containers[0]
				if c.Image != "registry.example.com/opshub:0.2.0-rc.1" || c.ImagePullPolicy != corev1.PullAlways ||
					c.Resources.Limits.Memory().String() != "1Gi" || c.Env[len(c.Env)-1].Name != "GOMEMLIMIT" ||
					spec.Tolerations[0].Key != "dedicated" || spec.NodeSelector["kubernetes.io/os"] != "linux" ||
					spec.PriorityClassName != "system-node-critical" || spec.ImagePullSecrets[0].Name != "regcred" {
					t.Errorf("collector ignores values: %+v", spec)
				}
			case *appsv1.Deployment:
				seen++
				spec := o.Spec.Template.Spec
				c := spec.Containers[0]
				if *o.Spec.Replicas != 3 || spec.Affinity.PodAntiAffinity != nil || spec.Affinity.NodeAffinity == nil ||
					c.Env[len(c.Env)-1].Value != "debug" || spec.Volumes[len(spec.Volumes)-1].Secret.SecretName != "opshub-tokens" ||
					c.VolumeMounts[len(c.VolumeMounts)-1].MountPath != "/etc/opshub-tokens" {
					t.Errorf("controller ignores values: %+v", spec)
				}
			case *corev1.Service:
				seen++
				if o.Spec.Type != corev1.ServiceTypeNodePort || o.Spec.Ports[0].Port != 80 {
					t.Errorf("service ignores values: %+v", o.Spec)
				}
			case *corev1.ConfigMap:
				seen++
				if !strings.Contains(o.Data["config.yaml"], "restarts: 5") || !strings.Contains(o.Data["config.yaml"], "nodeName: ${NODE_NAME}") {
					t.Errorf("config.yaml does not merge the values:\n%s", o.Data["config.yaml"])
				}
			case *policyv1.PodDisruptionBudget:
				t.Errorf("podDisruptionBudget.enabled=false still renders %s", describe(o))
			}
		}
		if seen != 4 {
			t.Errorf("saw %d of the 4 customised objects", seen)
		}
	})

	c := kubetest.Start(t, kubetest.Options{})
	t.Run("default values", func(t *testing.T) { applyAll(t, c.Client, defaults, true) })
	// The namespace exists now, as namespace.create=false expects.
	t.Run("custom values", func(t *testing.T) { applyAll(t, c.Client, custom, true) })
}

func TestHelmInstallRunsWithLeastPrivilege(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	kubeconfig := "--kubeconfig=" + c.Kubeconfig

	// As docs/kubernetes.md says: Helm keeps its release record in the
	// namespace, so the namespace exists first and the chart takes it over.
	// (--create-namespace would create it after Helm's check for objects to
	// take over, and the chart's Namespace would then fail as existing.)
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := helm(t, "install", "opshub", chartDir, "--namespace", installNamespace, "--take-ownership", kubeconfig); err != nil {
		t.Fatal(err)
	}
	ns, err := c.Client.CoreV1().Namespaces().Get(ctx, installNamespace, metav1.GetOptions{})
	if err != nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" || ns.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Fatalf("namespace after install: %+v, %v", ns, err)
	}
	ds, err := c.Client.AppsV1().DaemonSets(installNamespace).Get(ctx, "opshub-collector", metav1.GetOptions{})
	if err != nil || ds.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Fatalf("collector after install: %+v, %v", ds, err)
	}

	checkRBAC(t, c)

	if _, err := helm(t, "upgrade", "opshub", chartDir, "--namespace", installNamespace, "--set", "controller.replicas=3", kubeconfig); err != nil {
		t.Fatal(err)
	}
	dep, err := c.Client.AppsV1().Deployments(installNamespace).Get(ctx, "opshub-controller", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 3 {
		t.Errorf("controller after upgrade with controller.replicas=3: %+v, %v", dep.Spec.Replicas, err)
	}

	if _, err := helm(t, "uninstall", "opshub", "--namespace", installNamespace, "--wait", kubeconfig); err != nil {
		t.Fatal(err)
	}
	_, err = c.Client.AppsV1().DaemonSets(installNamespace).Get(ctx, "opshub-collector", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("collector after uninstall: %v, want not found", err)
	}
	_, err = c.Client.RbacV1().ClusterRoles().Get(ctx, "opshub-controller", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("controller ClusterRole after uninstall: %v, want not found", err)
	}
	if ns, err := c.Client.CoreV1().Namespaces().Get(ctx, installNamespace, metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("namespace after uninstall: %+v, %v; want it kept", ns, err)
	}
}
