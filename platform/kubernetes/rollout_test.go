package kubernetes

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestDeploymentRolloutFollowsKubectl(t *testing.T) {
	three := int32(3)
	dep := func(generation, observed int64, status appsv1.DeploymentStatus) *appsv1.Deployment {
		status.ObservedGeneration = observed
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: generation},
			Spec:       appsv1.DeploymentSpec{Replicas: &three},
			Status:     status,
		}
	}
	timedOut := []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
	tests := []struct {
		name         string
		d            *appsv1.Deployment
		done, failed bool
		message      string
	}{
		{"spec not observed yet", dep(2, 1, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), false, false,
			"Waiting for deployment spec update to be observed..."},
		{"progress deadline exceeded", dep(2, 2, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, Conditions: timedOut}), false, true,
			`deployment "web" exceeded its progress deadline`},
		{"new replicas being created", dep(2, 2, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), false, false,
			`Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...`},
		{"old replicas pending termination", dep(2, 2, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3}), false, false,
			`Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...`},
		{"updated replicas not available yet", dep(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 1}), false, false,
			`Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...`},
		{"done", dep(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), true, false,
			`deployment "web" successfully rolled out`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := deploymentRollout(tt.d)
			if st.Done != tt.done || st.Failed != tt.failed || st.Message != tt.message {
				t.Errorf("state = %+v, want done %t, failed %t, %q", st, tt.done, tt.failed, tt.message)
			}
		})
	}
}

func TestStatefulSetRolloutFollowsKubectl(t *testing.T) {
	three, one := int32(3), int32(1)
	sts := func(partition *int32, status appsv1.StatefulSetStatus) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: 2},
			Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status: status,
		}
		if partition != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
		}
		return s
	}
	tests := []struct {
		name    string
		s       *appsv1.StatefulSet
		done    bool
		message string
	}{
		{"not observed", sts(nil, appsv1.StatefulSetStatus{ObservedGeneration: 1}), false, "Waiting for statefulset spec update to be observed..."},
		{"pods not ready", sts(nil, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1}), false, "Waiting for 2 pods to be ready..."},
		{"partition not reached", sts(&one, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 1}), false,
			"Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."},
		{"partition reached", sts(&one, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 2}), true,
			"partitioned roll out complete: 2 new pods have been updated..."},
		{"rolling", sts(nil, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 1, CurrentRevision: "db-1", UpdateRevision: "db-2"}), false,
			"waiting for statefulset rolling update to complete 1 pods at revision db-2..."},
		{"complete", sts(nil, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, CurrentReplicas: 3, CurrentRevision: "db-2", UpdateRevision: "db-2"}), true,
			"statefulset rolling update complete 3 pods at revision db-2..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := statefulSetRollout(tt.s)
			if err != nil || st.Done != tt.done || st.Message != tt.message {
				t.Errorf("state = %+v, %v; want done %t, %q", st, err, tt.done, tt.message)
			}
		})
	}
	onDelete := sts(nil, appsv1.StatefulSetStatus{})
	onDelete.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
	if _, err := statefulSetRollout(onDelete); err == nil {
		t.Error("OnDelete strategy: no error, want one (kubectl has no status for it)")
	}
}

func template(image string, env ...corev1.EnvVar) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{defaultContainerAnnotation: "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "sidecar", Image: "proxy:1"},
			{Name: "web", Image: image, Args: []string{"--old"}, Env: env},
		}},
	}
}

func TestRolloutChangesTheDefaultContainer(t *testing.T) {
	tpl := template("web:1", corev1.EnvVar{Name: "MODE", Value: "a"}, corev1.EnvVar{Name: "KEEP", Value: "k"})
	change := RolloutChange{Image: "web:2", Command: []string{"/bin/web", "--fast"}, Env: map[string]string{"MODE": "b", "NEW": "n"}}
	if err := change.apply(&tpl); err != nil {
		t.Fatal(err)
	}
	web, sidecar := tpl.Spec.Containers[1], tpl.Spec.Containers[0]
	if web.Image != "web:2" || !slices.Equal(web.Command, []string{"/bin/web", "--fast"}) || web.Args != nil {
		t.Errorf("web = %+v, want image web:2, the new command, no args", web)
	}
	want := []corev1.EnvVar{{Name: "MODE", Value: "b"}, {Name: "KEEP", Value: "k"}, {Name: "NEW", Value: "n"}}
	if !slices.Equal(web.Env, want) {
		t.Errorf("env = %v, want %v", web.Env, want)
	}
	if sidecar.Image != "proxy:1" {
		t.Errorf("sidecar image = %s, want it untouched", sidecar.Image)
	}
	if got := change.cause(); got != "opshub: image web:2, command /bin/web --fast, env MODE,NEW" {
		t.Errorf("cause = %q", got)
	}
}

func TestRolloutAndUndoOfADeployment(t *testing.T) {
	one := int32(1)
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "dep-web", Annotations: map[string]string{revisionAnnotation: "2"}},
		Spec:       appsv1.DeploymentSpec{Replicas: &one, Template: template("web:2")},
	}
	replicaSet := func(name, revision, image, cause string) *appsv1.ReplicaSet {
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("rs-" + name),
			Annotations: map[string]string{revisionAnnotation: revision}}}
		if cause != "" {
			rs.Annotations[ChangeCauseAnnotation] = cause
		}
		rs.Spec.Template = template(image)
		rs.Spec.Template.Labels[podTemplateHashLabel] = name
		controlledBy(rs, kindDeployment, "web", "dep-web")
		return rs
	}
	p, client := runFake(t, Options{}, web, replicaSet("web-a", "1", "web:1", "first release"), replicaSet("web-b", "2", "web:2", ""))
	ctx := context.Background()

	t.Run("rollout changes the template and records the cause", func(t *testing.T) {
		if err := p.Rollout(ctx, "shop", "web", RolloutChange{Image: "web:3", Cause: "deploy 3"}); err != nil {
			t.Fatal(err)
		}
		d, err := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Spec.Template.Spec.Containers[1].Image != "web:3" || d.Annotations[ChangeCauseAnnotation] != "deploy 3" {
			t.Errorf("deployment image %s, cause %q; want web:3, deploy 3", d.Spec.Template.Spec.Containers[1].Image, d.Annotations[ChangeCauseAnnotation])
		}
	})
	t.Run("undo to revision 0 takes the previous revision's template", func(t *testing.T) {
		to, err := p.Undo(ctx, "shop", "web", 0)
		if err != nil {
			t.Fatal(err)
		}
		d, err := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if to != 1 || d.Spec.Template.Spec.Containers[1].Image != "web:1" {
			t.Errorf("undo to %d, image %s; want 1, web:1", to, d.Spec.Template.Spec.Containers[1].Image)
		}
		if _, ok := d.Spec.Template.Labels[podTemplateHashLabel]; ok {
			t.Errorf("template labels %v keep the ReplicaSet's hash", d.Spec.Template.Labels)
		}
		if d.Annotations[ChangeCauseAnnotation] != "first release" {
			t.Errorf("cause = %q, want the revision's own", d.Annotations[ChangeCauseAnnotation])
		}
	})
	t.Run("an unknown revision is an error", func(t *testing.T) {
		if _, err := p.Undo(ctx, "shop", "web", 7); err == nil {
			t.Error("undo to revision 7: no error")
		}
	})
	t.Run("an empty change is refused", func(t *testing.T) {
		if err := p.Rollout(ctx, "shop", "web", RolloutChange{}); err == nil {
			t.Error("no error")
		}
	})
}
