package kubernetes

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/model"
)

// TestGroupsAreFieldsOfTheRunSpec writes groups into a pod template as a
// release does and reads them back: envFrom of opshub's objects in their
// order, before the container's own envFrom source, and the checksum
// annotation; a spec without groups takes them out again.
func TestGroupsAreFieldsOfTheRunSpec(t *testing.T) {
	ctx := context.Background()
	d := twoContainers(map[string]string{TagsAnnotation: " api, db ,,api"})
	own := corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-own"}}}
	d.Spec.Template.Spec.Containers[1].EnvFrom = []corev1.EnvFromSource{own}
	settings := corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "opshub-group-settings", Namespace: "shop", Labels: map[string]string{ManagedByLabel: ManagedBy}}, Data: map[string]string{"REGION": "eu", "MODE": "hidden"}}
	db := corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "opshub-group-db", Namespace: "shop", Labels: map[string]string{ManagedByLabel: ManagedBy}}, Data: map[string][]byte{"DB_PASSWORD": []byte("hunter2"), "REGION": []byte("db")}}
	p, client := runFake(t, Options{}, d, &settings, &db)

	if got := p.Tags("shop", "web"); !slices.Equal(got, []string{"api", "db"}) {
		t.Errorf("tags %q, want [api db] from %q", got, TagsAnnotation)
	}
	spec, err := p.Template(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	groups := []model.GroupRef{{Name: "settings", Kind: model.GroupKindConfig}, {Name: "db", Kind: model.GroupKindSecret}}
	next := spec.Clone()
	next.Groups, next.GroupsChecksum = groups, GroupChecksum(map[string]string{"REGION": "db", "DB_PASSWORD": "<secret:0123456789abcdef>"})
	if err := p.SetTemplate(ctx, "shop", "web", next); err != nil {
		t.Fatal(err)
	}
	dep, err := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := dep.Spec.Template.Spec.Containers[1].EnvFrom
	if len(from) != 3 || from[0].ConfigMapRef == nil || from[0].ConfigMapRef.Name != "opshub-group-settings" ||
		from[1].SecretRef == nil || from[1].SecretRef.Name != "opshub-group-db" || from[2].ConfigMapRef.Name != "web-own" {
		t.Errorf("envFrom %+v; want settings, db, then the container's own", from)
	}
	if len(dep.Spec.Template.Spec.Containers[0].EnvFrom) != 0 {
		t.Error("a container other than the default one took groups")
	}
	if got := dep.Spec.Template.Annotations[GroupChecksumAnnotation]; got != next.GroupsChecksum {
		t.Errorf("checksum annotation %q, want %q", got, next.GroupsChecksum)
	}
	if got := specOf(&dep.Spec.Template); !got.Equal(next) {
		t.Errorf("the template reads back as %+v, want %+v", got, next)
	}
	if c := dep.Annotations[ChangeCauseAnnotation]; c != "opshub: groups settings,db" {
		t.Errorf("change cause %q", c)
	}

	env, err := p.Env(ctx, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []model.EnvVar{
		{Name: "DB_PASSWORD", Value: model.SecretValue, Source: "group db"},
		{Name: "MODE", Value: "slow", Source: model.SourceRelease}, // the container's own wins
		{Name: "REGION", Value: model.SecretValue, Source: "group db"},
	}
	if !slices.Equal(env, want) {
		t.Errorf("env %+v, want %+v", env, want)
	}

	if err := p.SetTemplate(ctx, "shop", "web", spec); err != nil {
		t.Fatal(err)
	}
	dep, err = client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if from := dep.Spec.Template.Spec.Containers[1].EnvFrom; len(from) != 1 || from[0].ConfigMapRef.Name != "web-own" {
		t.Errorf("envFrom after the groups were removed: %+v", from)
	}
	if _, ok := dep.Spec.Template.Annotations[GroupChecksumAnnotation]; ok {
		t.Error("the checksum annotation stayed")
	}
}

func TestGroupChecksumFollowsTheValues(t *testing.T) {
	a := GroupChecksum(map[string]string{"A": "1", "B": "2"})
	if a != GroupChecksum(map[string]string{"B": "2", "A": "1"}) {
		t.Error("the checksum depends on the map's order")
	}
	for _, other := range []map[string]string{{"A": "1", "B": "3"}, {"A": "1"}, {"A": "1", "B": "2", "C": ""}, {"A": "1=B", "B": "2"}} {
		if GroupChecksum(other) == a {
			t.Errorf("%v has the checksum of A=1 B=2", other)
		}
	}
}
