package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// twoContainers is a Deployment whose default container (by the kubectl
// annotation) is the second one, with a literal variable and one from a
// secret.
func twoContainers(annotations map[string]string) *appsv1.Deployment {
	one := int32(1)
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "dep-web", Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{defaultContainerAnnotation: "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "proxy", Image: "proxy:1"},
					{Name: "web", Image: "web:1", Args: []string{"serve", "--port=80"}, Env: []corev1.EnvVar{
						{Name: "MODE", Value: "slow"},
						{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "token"}}},
					}},
				}},
			},
		},
	}
}

func TestReleaseSpecOfAPodTemplate(t *testing.T) {
	ctx := context.Background()
	p, client := runFake(t, Options{}, twoContainers(nil))
	spec, err := p.Template(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := model.RunSpec{
		Image: "web:1", Images: map[string]string{"proxy": "proxy:1", "web": "web:1"},
		Command: []string{"serve", "--port=80"}, Env: map[string]string{"MODE": "slow"},
	}
	if !spec.Equal(want) {
		t.Fatalf("spec = %+v, want %+v (the default container's image, command line and literal env)", spec, want)
	}

	t.Run("a new spec changes only what differs and keeps secret variables", func(t *testing.T) {
		next := spec.Clone()
		next.Images["proxy"] = "proxy:2"
		next.Env["MODE"] = "fast"
		next.Env["NEW"] = "1"
		next.Version = "2.0"
		if err := p.SetTemplate(ctx, "shop", "web", next); err != nil {
			t.Fatal(err)
		}
		d, err := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cs := d.Spec.Template.Spec.Containers
		if cs[0].Image != "proxy:2" || cs[1].Image != "web:1" {
			t.Errorf("images %s, %s; want proxy:2 and web:1 unchanged", cs[0].Image, cs[1].Image)
		}
		if !slices.Equal(cs[1].Args, []string{"serve", "--port=80"}) || cs[1].Command != nil {
			t.Errorf("command %q args %q changed", cs[1].Command, cs[1].Args)
		}
		names := []string{}
		for _, e := range cs[1].Env {
			names = append(names, e.Name)
			if e.Name == "TOKEN" && e.ValueFrom == nil {
				t.Error("the secret variable lost its source")
			}
		}
		if !slices.Equal(names, []string{"MODE", "TOKEN", "NEW"}) {
			t.Errorf("env %v, want MODE, TOKEN, NEW", names)
		}
		if got := d.Spec.Template.Annotations[VersionAnnotation]; got != "2.0" {
			t.Errorf("version annotation %q", got)
		}
		if got := d.Annotations[ChangeCauseAnnotation]; got != "opshub: image proxy=proxy:2, env MODE,NEW, version 2.0" {
			t.Errorf("change cause %q", got)
		}
		if after, _ := p.Template(ctx, "shop", "web"); !after.Equal(next) {
			t.Errorf("template after = %+v, want %+v", after, next)
		}
	})

	t.Run("Image names the default container", func(t *testing.T) {
		next, _ := p.Template(ctx, "shop", "web")
		next.Image = "web:3"
		if err := p.SetTemplate(ctx, "shop", "web", next); err != nil {
			t.Fatal(err)
		}
		after, _ := p.Template(ctx, "shop", "web")
		if after.Image != "web:3" || after.Images["web"] != "web:3" || after.Images["proxy"] != "proxy:2" {
			t.Errorf("after = %+v", after)
		}
	})

	t.Run("bad specs are refused naming the field", func(t *testing.T) {
		for _, tt := range []struct {
			spec  model.RunSpec
			field string
		}{
			{model.RunSpec{Images: map[string]string{"sidecar": "x:1"}}, "container"},
			{model.RunSpec{Images: map[string]string{"web": " "}}, "image"},
			{model.RunSpec{Env: map[string]string{"A=B": "1"}}, "env"},
		} {
			var se *platform.SpecError
			if err := p.CheckTemplate(ctx, "shop", "web", tt.spec); !errors.As(err, &se) || se.Field != tt.field {
				t.Errorf("CheckTemplate(%+v) = %v, want a refusal of %s", tt.spec, err, tt.field)
			}
		}
	})
}

func TestReleasesDisabledByAnnotation(t *testing.T) {
	ctx := context.Background()
	p, _ := runFake(t, Options{}, twoContainers(map[string]string{ReleasesAnnotation: ReleasesDisabled}))
	spec, err := p.Template(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	spec.Image = "web:2"
	var ue *platform.UnmanagedError
	if err := p.CheckTemplate(ctx, "shop", "web", spec); !errors.As(err, &ue) {
		t.Fatalf("CheckTemplate = %v, want an UnmanagedError", err)
	}
	if err := p.SetTemplate(ctx, "shop", "web", spec); !errors.As(err, &ue) {
		t.Fatalf("SetTemplate = %v, want an UnmanagedError", err)
	}
	want := `Deployment shop/web has the annotation opshub.dev/releases: disabled: its pod template is managed outside opshub (a GitOps tool); change it there`
	if ue.Msg != want {
		t.Errorf("message %q", ue.Msg)
	}
	obs, err := p.ObservedTemplates(ctx)
	if err != nil || len(obs) != 1 || obs[0].Unmanaged != want {
		t.Errorf("observed %+v, %v", obs, err)
	}
}

func TestRollbackRestoresTheReplicaSetsWholeTemplate(t *testing.T) {
	ctx := context.Background()
	d := twoContainers(nil)
	old := d.Spec.Template.DeepCopy()
	old.Labels = map[string]string{"app": "web", podTemplateHashLabel: "abc"}
	old.Spec.Containers[1].Image = "web:0"
	old.Spec.Containers[1].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	controller := true
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-abc", Namespace: "shop", UID: "rs-abc",
			Annotations:     map[string]string{revisionAnnotation: "1", ChangeCauseAnnotation: "first"},
			OwnerReferences: []metav1.OwnerReference{{Kind: kindDeployment, Name: "web", UID: d.UID, Controller: &controller}},
		},
		Spec: appsv1.ReplicaSetSpec{Template: *old},
	}
	p, client := runFake(t, Options{}, d, rs)
	revs, err := p.Revisions(ctx, "shop", "web")
	if err != nil || len(revs) != 1 || revs[0].Revision != 1 || revs[0].Spec.Image != "web:0" || revs[0].Cause != "first" {
		t.Fatalf("revisions %+v, %v", revs, err)
	}
	if err := p.SetTemplate(ctx, "shop", "web", revs[0].Spec); err != nil {
		t.Fatal(err)
	}
	got, err := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Spec.Template.Spec.Containers[1]
	if c.Image != "web:0" || c.Resources.Limits.Memory().String() != "64Mi" {
		t.Errorf("restored container %s with limits %v, want web:0 with the revision's 64Mi limit", c.Image, c.Resources.Limits)
	}
	if _, ok := got.Spec.Template.Labels[podTemplateHashLabel]; ok {
		t.Error("the restored template kept the ReplicaSet's hash label")
	}
}

// A template its controller has not acted on yet (no revision of it may
// exist) is not observed until it has: a new leader importing the history
// then would miss its revision.
func TestTemplateObservedOnceItsControllerHas(t *testing.T) {
	ctx := context.Background()
	d := twoContainers(nil)
	d.Generation, d.Status.ObservedGeneration = 2, 1
	p, client := runFake(t, Options{}, d)
	if obs, err := p.ObservedTemplates(ctx); err != nil || len(obs) != 0 {
		t.Fatalf("observed %+v, %v before the Deployment's controller acted on generation 2", obs, err)
	}
	d.Status.ObservedGeneration = 2
	if _, err := client.AppsV1().Deployments("shop").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, 10*time.Second, "the template observed", func() error {
		obs, err := p.ObservedTemplates(ctx)
		if err != nil || len(obs) != 1 || obs[0].Spec.Images["web"] != "web:1" {
			return fmt.Errorf("observed %+v, %v", obs, err)
		}
		return nil
	})
}

// Managed fields are stamped to the second: when one writer changed the
// metadata and another the template within one second, their times tie.
// The writer of a template change is the one whose entry the change added
// or stamped anew (argocd here), not the one that only lost the image
// field to it.
func TestWriterOfATemplateChangeWithinTheSameSecond(t *testing.T) {
	p, _ := runFake(t, Options{})
	at := metav1.NewTime(time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC))
	entry := func(manager, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Time: &at, FieldsV1: metav1.NewFieldsV1(fields)}
	}
	old := twoContainers(map[string]string{ReleasesAnnotation: ReleasesDisabled})
	old.Generation = 3
	old.ManagedFields = []metav1.ManagedFieldsEntry{entry("e2e.test", `{"f:metadata":{"f:annotations":{}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}`)}
	cur := old.DeepCopy()
	cur.Generation = 4
	cur.Spec.Template.Spec.Containers[1].Image = "web:broken"
	cur.ManagedFields = []metav1.ManagedFieldsEntry{
		entry("argocd-controller", `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}`),
		entry("e2e.test", `{"f:metadata":{"f:annotations":{}}}`),
	}
	if got := lastWriter(&cur.ObjectMeta); got != "e2e.test" {
		t.Fatalf("lastWriter = %q: the tie this test is about does not arise", got)
	}
	p.noteWriter(old, cur)
	if got := p.writerOf(&cur.ObjectMeta); got != "argocd-controller" {
		t.Errorf("writer of generation 4: %q, want argocd-controller", got)
	}
	cur.Generation = 5 // a later change noteWriter did not see
	if got := p.writerOf(&cur.ObjectMeta); got != "e2e.test" {
		t.Errorf("writer of an unseen generation: %q, want lastWriter's", got)
	}
}
