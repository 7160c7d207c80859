//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
)

// groupsComponent is the kustomize component of the groups' RBAC.
const groupsComponent = kustomizeBase + "/groups"

// TestHelmChartGroupsRBACRendersTheKustomizeComponent renders the chart
// with the groups of the component's example: its groups rule is the
// component's; without groups the chart renders none.
func TestHelmChartGroupsRBACRendersTheKustomizeComponent(t *testing.T) {
	component := loadComponent(t, groupsComponent)
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(`config:
  groups:
    - {name: db, kind: secret, selector: {tags: [db]}, data: {A: "1"}}
    - {name: settings, kind: config, selector: {projects: [shop]}, data: {B: "2"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var rendered []runtime.Object
	for _, obj := range renderChart(t, "-f", values) {
		if strings.Contains(objectKey(obj), "groups") {
			rendered = append(rendered, obj)
		}
	}
	if len(rendered) != 2 || len(component) != 2 {
		t.Fatalf("the chart renders %d groups objects, the component has %d; want a ClusterRole and its binding", len(rendered), len(component))
	}
	sameObjects(t, component, rendered)
	for _, obj := range renderChart(t) {
		if strings.Contains(objectKey(obj), "groups") {
			t.Errorf("the default values (no groups) render %s", objectKey(obj))
		}
	}
}

// TestGroupObjectsOnTheAPIServer writes groups as the Secrets and
// ConfigMaps opshub owns, acting as the controller's ServiceAccount with
// the groups component's rule, which may only create Secrets and
// ConfigMaps and get, update and delete the groups' (no list, no watch,
// no other Secret): a group's data changes in place, a group that changes kind trades its Secret for a
// ConfigMap, a removed group's object goes, an object of the same name
// that opshub did not make is neither changed nor deleted, and a
// Deployment takes the groups with envFrom and the checksum annotation.
func TestGroupObjectsOnTheAPIServer(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	const ns = "shop"
	c.Namespace(t, ns)
	// The rule the install manifests grant (the kustomize component;
	// the chart renders the same from config.groups).
	user := "system:serviceaccount:opshub:opshub-controller"
	for _, obj := range loadComponent(t, groupsComponent) {
		var err error
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			_, err = c.Client.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = c.Client.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("the groups component has a %T", obj)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "the groups' RBAC to take effect", func() error {
		_, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "opshub-group-settings", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	if _, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing Secrets answered %v; the rule grants no list", err)
	}
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: ns}, StringData: map[string]string{"K": "v"}}
	if _, err := c.Client.CoreV1().Secrets(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets(ns).Get(ctx, "someone-elses", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("reading a Secret that is no group's answered %v; the rule names the groups' objects", err)
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
	groups := []model.GroupRef{{Name: "settings", Kind: model.GroupKindConfig}, {Name: "db", Kind: model.GroupKindSecret}}
	replicas := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{kubernetes.GroupChecksumAnnotation: kubernetes.GroupChecksum(map[string]string{"REGION": "eu"})}},
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

	// New data, in place.
	db2 := kubernetes.GroupObject{Name: "db", Secret: true, Data: map[string]string{"DB_PASSWORD": "two"}}
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
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "opshub-group-settings", Namespace: ns}, Data: map[string]string{"MINE": "yes"}}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = objs.Apply(ctx, ns, []kubernetes.GroupObject{{Name: "settings", Data: map[string]string{"CACHE": "1"}}}, nil)
	if !errors.Is(err, kubernetes.ErrNotOwned) {
		t.Errorf("writing over a foreign ConfigMap: %v, want ErrNotOwned", err)
	}
	if err := objs.Apply(ctx, ns, nil, []string{"settings"}); err != nil {
		t.Errorf("removing a group whose name a foreign ConfigMap has: %v", err)
	}
	if cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "opshub-group-settings", metav1.GetOptions{}); err != nil || cm.Data["MINE"] != "yes" {
		t.Errorf("the foreign ConfigMap: %+v %v", cm, err)
	}
}

// Secret values of the groups test: neither may appear anywhere but in the
// group's Secret.
const (
	firstSecret  = "first-s3cret-value"
	secondSecret = "second-s3cret-value"
)

// groupsYAML is the groups section of the groups test: db, a secret group
// of shop's workloads tagged db (priority 10), and, when settings is set,
// a config group of shop's web and worker.
func groupsYAML(password, logLevel string, settings bool) string {
	s := fmt.Sprintf(`groups:
  - name: db
    kind: secret
    priority: 10
    selector: {projects: [shop], tags: [db]}
    data: {DB_PASSWORD: %q, REGION: db-region}
`, password)
	if settings {
		s += fmt.Sprintf(`  - name: settings
    kind: config
    selector: {projects: [shop], services: [web, worker]}
    data: {LOG_LEVEL: %s, REGION: eu}
`, logLevel)
	}
	return s
}

// taggedDeployment is a driven Deployment shop/name with opshub tags.
func taggedDeployment(t *testing.T, c *kubetest.Cluster, name string, replicas int32, tags string, env ...corev1.EnvVar) {
	t.Helper()
	d := deployment(name, replicas, map[string]string{kubetest.DrivenAnnotation: "true"})
	if tags != "" {
		d.Annotations = map[string]string{kubernetes.TagsAnnotation: tags}
	}
	d.Spec.Template.Spec.Containers[0].Env = env
	if _, err := c.Client.AppsV1().Deployments("shop").Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// groupsOfTemplate reads a Deployment's groups: the names its container
// takes with envFrom, its checksum annotation and its generation.
func groupsOfTemplate(t *testing.T, c *kubetest.Cluster, name string) (from []string, checksum string, generation int64) {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments("shop").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range d.Spec.Template.Spec.Containers[0].EnvFrom {
		switch {
		case src.SecretRef != nil:
			from = append(from, "secret/"+src.SecretRef.Name)
		case src.ConfigMapRef != nil:
			from = append(from, "configmap/"+src.ConfigMapRef.Name)
		}
	}
	return from, d.Spec.Template.Annotations[kubernetes.GroupChecksumAnnotation], d.Generation
}

// TestGroupsRollTheSelectedDeployments runs the controller with groups on
// the real API server: at start and at each reload it writes the groups'
// objects and rolls exactly the Deployments (and the StatefulSet) whose
// groups give them something new, as releases triggered by config that name
// the groups (envFrom in priority order and a changed checksum annotation);
// a Deployment no group selects, and one whose own env hides the change, are
// left alone; a removed group leaves the pod templates and its ConfigMap
// goes; two groups of one priority that set one key are an error naming
// both, and change nothing. Secret values appear in no release, no env
// listing, no reload answer, no notification and not in the controller's
// log; deploy.* notifications follow a tag filter.
func TestGroupsRollTheSelectedDeployments(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	startReleaseKubelet(t, c, "shop")
	taggedDeployment(t, c, "web", 2, "api, db", corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"})
	taggedDeployment(t, c, "worker", 1, "db")
	taggedDeployment(t, c, "static", 1, "")
	cache := deployment("cache", 1, map[string]string{kubetest.DrivenAnnotation: "true"})
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cache", Annotations: map[string]string{kubernetes.TagsAnnotation: "db"}},
		Spec:       appsv1.StatefulSetSpec{Replicas: cache.Spec.Replicas, Selector: cache.Spec.Selector, Template: cache.Spec.Template, ServiceName: "cache"},
	}
	if _, err := c.Client.AppsV1().StatefulSets("shop").Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hook, hookSrv := newReceiver(t)
	cfgFile := filepath.Join(t.TempDir(), "controller.yaml")
	var logs sinktest.LockedBuffer // the controller's log
	var base string
	write := func(groups string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, []byte(base+groups), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := runController(t, func(listen string) string {
		base = strings.Replace(controllerConfig(t, c, listen, hookSrv.URL), "events: [container.crashloop]", "events: [deploy.*]\n      tags: [api]", 1) +
			"release:\n  progressDeadline: 2m\n"
		write(groupsYAML(firstSecret, "info", true))
		return base + groupsYAML(firstSecret, "info", true)
	}, app.ControllerOptions{ConfigPath: cfgFile, Logger: slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &logs), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	api, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}
	var answers []string // every reload answer, to look for secrets in

	succeeded := func(service string, revision int, reason string) {
		t.Helper()
		rel, _ := releaseOfEnds(t, api, service, revision)
		if rel.State != model.ReleaseSucceeded || rel.Trigger.Kind != model.TriggerConfig || rel.Reason != reason {
			t.Errorf("%s revision %d: %s, trigger %s, reason %q; want succeeded, config, %q", service, revision, rel.State, rel.Trigger.Kind, rel.Reason, reason)
		}
	}
	reload := func(groups string) []string {
		t.Helper()
		write(groups)
		res, err := api.ReloadConfig(ctx)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		b, _ := json.Marshal(res)
		answers = append(answers, string(b))
		if len(res.Errors) > 0 || slices.Contains(res.RestartRequired, "groups") {
			t.Fatalf("reload: errors %+v, restart required %v", res.Errors, res.RestartRequired)
		}
		return res.Releases
	}
	both := []string{"configmap/opshub-group-settings", "secret/opshub-group-db"}
	var webSum, workerSum string

	t.Run("at start the selected Deployments and StatefulSet take their groups, lowest priority first", func(t *testing.T) {
		succeeded("web", 2, "config file changed: groups db, settings")
		succeeded("worker", 2, "config file changed: groups db, settings")
		succeeded("cache", 2, "config file changed: group db")
		s, err := c.Client.AppsV1().StatefulSets("shop").Get(ctx, "cache", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if from := s.Spec.Template.Spec.Containers[0].EnvFrom; len(from) != 1 || from[0].SecretRef == nil || from[0].SecretRef.Name != "opshub-group-db" || s.Spec.Template.Annotations[kubernetes.GroupChecksumAnnotation] == "" {
			t.Errorf("the StatefulSet cache takes %+v, annotations %v", from, s.Spec.Template.Annotations)
		}
		var from []string
		from, webSum, _ = groupsOfTemplate(t, c, "web")
		if !slices.Equal(from, both) || webSum == "" {
			t.Errorf("web's envFrom %v, checksum %q", from, webSum)
		}
		from, workerSum, _ = groupsOfTemplate(t, c, "worker")
		if !slices.Equal(from, both) || workerSum == "" || workerSum == webSum {
			t.Errorf("worker's envFrom %v, checksum %q (web's %q: web's own LOG_LEVEL hides settings')", from, workerSum, webSum)
		}
		if from, sum, gen := groupsOfTemplate(t, c, "static"); from != nil || sum != "" || gen != 1 {
			t.Errorf("static, which no group selects: envFrom %v, checksum %q, generation %d", from, sum, gen)
		}
		secret, err := c.Client.CoreV1().Secrets("shop").Get(ctx, "opshub-group-db", metav1.GetOptions{})
		if err != nil || string(secret.Data["DB_PASSWORD"]) != firstSecret {
			t.Fatalf("the Secret of db: %v", err)
		}
		env, err := api.Env(ctx, "shop", "web")
		if err != nil {
			t.Fatal(err)
		}
		want := []model.EnvVar{
			{Name: "DB_PASSWORD", Value: model.SecretValue, Source: "group db"},
			{Name: "LOG_LEVEL", Value: "debug", Source: model.SourceRelease},
			{Name: "REGION", Value: model.SecretValue, Source: "group db"},
		}
		if !slices.Equal(env, want) {
			t.Errorf("env of web %+v, want %+v", env, want)
		}
		env, err = api.Env(ctx, "shop", "worker")
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(env, func(e model.EnvVar) bool { return e.Name == "LOG_LEVEL" }); i < 0 || env[i] != (model.EnvVar{Name: "LOG_LEVEL", Value: "info", Source: "group settings"}) {
			t.Errorf("env of worker %+v", env)
		}
	})

	t.Run("a secret's new value rolls the Deployments that take it and no other", func(t *testing.T) {
		got := reload(groupsYAML(secondSecret, "info", true))
		if want := []string{"shop/cache revision 3", "shop/web revision 3", "shop/worker revision 3"}; !slices.Equal(got, want) {
			t.Errorf("releases started %v, want %v", got, want)
		}
		succeeded("web", 3, "config file changed: group db")
		succeeded("worker", 3, "config file changed: group db")
		succeeded("cache", 3, "config file changed: group db")
		from, sum, _ := groupsOfTemplate(t, c, "web")
		if !slices.Equal(from, both) || sum == webSum {
			t.Errorf("web after the new secret: envFrom %v, checksum %q (was %q)", from, sum, webSum)
		}
		webSum = sum
		if _, sum, _ := groupsOfTemplate(t, c, "worker"); sum == workerSum {
			t.Error("worker's checksum did not change with db's secret")
		} else {
			workerSum = sum
		}
		if _, _, gen := groupsOfTemplate(t, c, "static"); gen != 1 {
			t.Errorf("static's generation %d", gen)
		}
		sinktest.Eventually(t, waitTimeout, "web's pods carry the new checksum", func() error {
			pods, err := c.Client.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return err
			}
			n := 0
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && p.Annotations[kubernetes.GroupChecksumAnnotation] == webSum {
					n++
				}
			}
			if n != 2 || len(pods.Items) != 2 {
				return fmt.Errorf("%d of %d pods carry %s", n, len(pods.Items), webSum)
			}
			return nil
		})
		if s, err := c.Client.CoreV1().Secrets("shop").Get(ctx, "opshub-group-db", metav1.GetOptions{}); err != nil || string(s.Data["DB_PASSWORD"]) != secondSecret {
			t.Errorf("the Secret of db after the reload: %v", err)
		}
	})

	t.Run("a change the workload's own env hides rolls nothing there", func(t *testing.T) {
		got := reload(groupsYAML(secondSecret, "warn", true))
		if want := []string{"shop/worker revision 4"}; !slices.Equal(got, want) {
			t.Errorf("releases started %v, want %v (web sets LOG_LEVEL itself)", got, want)
		}
		succeeded("worker", 4, "config file changed: group settings")
		if _, sum, _ := groupsOfTemplate(t, c, "web"); sum != webSum {
			t.Errorf("web's checksum changed: %q, was %q", sum, webSum)
		}
		if rels := releasesOf(t, api, "shop", "web"); rels[0].Revision != 3 {
			t.Errorf("web has revision %d", rels[0].Revision)
		}
	})

	t.Run("a removed group leaves the pod templates and its ConfigMap goes", func(t *testing.T) {
		got := reload(groupsYAML(secondSecret, "warn", false))
		if want := []string{"shop/web revision 4", "shop/worker revision 5"}; !slices.Equal(got, want) {
			t.Errorf("releases started %v, want %v", got, want)
		}
		succeeded("web", 4, "config file changed: group settings")
		succeeded("worker", 5, "config file changed: group settings")
		for _, name := range []string{"web", "worker"} {
			if from, _, _ := groupsOfTemplate(t, c, name); !slices.Equal(from, []string{"secret/opshub-group-db"}) {
				t.Errorf("%s's envFrom %v", name, from)
			}
		}
		sinktest.Eventually(t, waitTimeout, "the ConfigMap of the removed group goes", func() error {
			if _, err := c.Client.CoreV1().ConfigMaps("shop").Get(ctx, "opshub-group-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("get: %v", err)
			}
			return nil
		})
		if _, err := c.Client.CoreV1().Secrets("shop").Get(ctx, "opshub-group-db", metav1.GetOptions{}); err != nil {
			t.Errorf("the Secret of db, which stays: %v", err)
		}
		if rels := releasesOf(t, api, "shop", "static"); len(rels) != 1 {
			t.Errorf("static has %d releases", len(rels))
		}
	})

	t.Run("two groups of one priority setting one key leave the workloads as they are", func(t *testing.T) {
		write(groupsYAML(secondSecret, "warn", false) + `  - name: db-replica
    kind: secret
    priority: 10
    selector: {tags: [db]}
    data: {REGION: replica-region}
`)
		res, err := api.ReloadConfig(ctx)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		b, _ := json.Marshal(res)
		answers = append(answers, string(b))
		if len(res.Releases) != 0 {
			t.Errorf("releases started %v", res.Releases)
		}
		var msgs []string
		for _, p := range res.Errors {
			msgs = append(msgs, p.Path+": "+p.Message)
		}
		all := strings.Join(msgs, "\n")
		for _, want := range []string{"shop/cache", "shop/web", "shop/worker", `REGION is set at priority 10 by both group "db" and group "db-replica"`} {
			if !strings.Contains(all, want) {
				t.Errorf("the reload's errors do not say %q:\n%s", want, all)
			}
		}
		for _, name := range []string{"web", "worker"} {
			if from, _, _ := groupsOfTemplate(t, c, name); !slices.Equal(from, []string{"secret/opshub-group-db"}) {
				t.Errorf("%s's envFrom %v", name, from)
			}
		}
		if _, err := c.Client.CoreV1().Secrets("shop").Get(ctx, "opshub-group-db-replica", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the Secret of db-replica, which no workload can take: %v", err)
		}
	})

	t.Run("no secret value in releases, env, reload answers, notifications or the log", func(t *testing.T) {
		var out []string
		for _, svc := range []string{"web", "worker", "static", "cache"} {
			b, _ := json.Marshal(releasesOf(t, api, "shop", svc))
			out = append(out, string(b))
			env, err := api.Env(ctx, "shop", svc)
			if err != nil {
				t.Fatal(err)
			}
			b, _ = json.Marshal(env)
			out = append(out, string(b))
		}
		out = append(out, answers...)
		out = append(out, logs.String())
		hook.mu.Lock()
		for _, evs := range hook.accepted {
			b, _ := json.Marshal(evs)
			out = append(out, string(b))
		}
		hook.mu.Unlock()
		for _, s := range out {
			if strings.Contains(s, firstSecret) || strings.Contains(s, secondSecret) {
				t.Errorf("a secret value in %.300s", s)
			}
		}
		// The hook filters on the tag api: web's deploys reach it,
		// worker's do not.
		sinktest.Eventually(t, waitTimeout, "web's three deploy.succeeded notified", func() error {
			services, _ := hook.notified(model.EventDeploySucceeded)
			if len(services) < 3 {
				return fmt.Errorf("deploy.succeeded for %v", services)
			}
			return nil
		})
		for _, name := range []string{model.EventDeployStarted, model.EventDeploySucceeded} {
			if services, _ := hook.notified(name); slices.Contains(services, "worker") || !slices.Contains(services, "web") {
				t.Errorf("%s notified for %v; the hook takes tag api only", name, services)
			}
		}
	})
}
