//go:build e2e

package e2e

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/platform/kubernetes"
)

// TestGroupObjectsOnTheAPIServer writes groups as the Secrets and
// ConfigMaps opshub owns, acting as a ServiceAccount that may only get,
// create, update and delete them (no list, no watch): a group's data
// changes in place, a group that changes kind trades its Secret for a
// ConfigMap, a removed group's object goes, an object of the same name
// that opshub did not make is neither changed nor deleted, and a
// Deployment takes the groups with envFrom and the checksum annotation.
func TestGroupObjectsOnTheAPIServer(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	const ns = "shop"
	c.Namespace(t, ns)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "opshub-groups"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"get", "create", "update", "delete"}}},
	}
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := "system:serviceaccount:opshub:opshub-controller"
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "opshub-groups"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "opshub-groups"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "the groups' RBAC to take effect", func() error {
		_, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "nothing", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	if _, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing Secrets answered %v; the rule grants no list", err)
	}

	objs := kubernetes.NewGroupObjects(client)
	db := kubernetes.GroupObject{Name: "db", Secret: true, Data: map[string]string{"DB_PASSWORD": "one"}}
	settings := kubernetes.GroupObject{Name: "settings", Data: map[string]string{"REGION": "eu"}}
	if err := objs.Apply(ctx, ns, []kubernetes.GroupObject{settings, db}, nil); err != nil {
		t.Fatal(err)
	}
	secret, err := c.Client.CoreV1().Secrets(ns).Get(ctx, "opshub-group-db", metav1.GetOptions{})
	if err != nil || string(secret.Data["DB_PASSWORD"]) != "one" || secret.Labels[kubernetes.ManagedByLabel] != "opshub" || secret.Labels[kubernetes.GroupLabel] != "db" {
		t.Fatalf("Secret opshub-group-db: %+v, %v", secret, err)
	}
	if cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "opshub-group-settings", metav1.GetOptions{}); err != nil || cm.Data["REGION"] != "eu" {
		t.Fatalf("ConfigMap opshub-group-settings: %+v, %v", cm, err)
	}

	// A Deployment takes them, lowest priority first, with the checksum.
	groups := []kubernetes.GroupObject{settings, db}
	replicas := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{kubernetes.GroupChecksumAnnotation: kubernetes.GroupChecksum(groups)}},
				Spec: corev1.PodSpec{NodeName: kubetest.NodeName, Containers: []corev1.Container{{
					Name: "web", Image: "registry.example/web:1", EnvFrom: kubernetes.EnvFrom(groups),
					Env: []corev1.EnvVar{{Name: "REGION", Value: "workload-wins"}},
				}}},
			},
		},
	}
	created, err := c.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := created.Spec.Template.Spec.Containers[0].EnvFrom
	if len(from) != 2 || from[0].ConfigMapRef == nil || from[0].ConfigMapRef.Name != "opshub-group-settings" || from[1].SecretRef == nil || from[1].SecretRef.Name != "opshub-group-db" {
		t.Errorf("the Deployment's envFrom: %+v", from)
	}

	// New data, in place; the checksum changes with it.
	db2 := kubernetes.GroupObject{Name: "db", Secret: true, Data: map[string]string{"DB_PASSWORD": "two"}}
	if kubernetes.GroupChecksum([]kubernetes.GroupObject{settings, db2}) == kubernetes.GroupChecksum(groups) {
		t.Error("the checksum does not change with a group's data")
	}
	if err := objs.Apply(ctx, ns, []kubernetes.GroupObject{settings, db2}, nil); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, "opshub-group-db", metav1.GetOptions{}); err != nil || string(s.Data["DB_PASSWORD"]) != "two" || s.UID != secret.UID {
		t.Errorf("after new data: %v %v (uid %s, was %s)", s.Data, err, s.UID, secret.UID)
	}

	// db becomes a config group: its Secret goes, a ConfigMap comes;
	// settings is removed.
	dbConfig := kubernetes.GroupObject{Name: "db", Data: map[string]string{"DB_HOST": "db"}}
	if err := objs.Apply(ctx, ns, []kubernetes.GroupObject{dbConfig}, []string{"settings"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Secrets(ns).Get(ctx, "opshub-group-db", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Secret of db after it became a config group: %v", err)
	}
	if cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "opshub-group-db", metav1.GetOptions{}); err != nil || cm.Data["DB_HOST"] != "db" {
		t.Errorf("the ConfigMap of db: %+v %v", cm, err)
	}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "opshub-group-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap of the removed group: %v", err)
	}

	// Someone else's ConfigMap of a group's name: neither changed nor
	// deleted.
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "opshub-group-cache", Namespace: ns}, Data: map[string]string{"MINE": "yes"}}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = objs.Apply(ctx, ns, []kubernetes.GroupObject{{Name: "cache", Data: map[string]string{"CACHE": "1"}}}, nil)
	if !errors.Is(err, kubernetes.ErrNotOwned) {
		t.Errorf("writing over a foreign ConfigMap: %v, want ErrNotOwned", err)
	}
	if err := objs.Apply(ctx, ns, nil, []string{"cache"}); err != nil {
		t.Errorf("removing a group whose name a foreign ConfigMap has: %v", err)
	}
	if cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "opshub-group-cache", metav1.GetOptions{}); err != nil || cm.Data["MINE"] != "yes" {
		t.Errorf("the foreign ConfigMap: %+v %v", cm, err)
	}
}
