package kubernetes

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opshub/opshub/model"
)

// ProjectLabel on a Deployment or StatefulSet puts its service in a project
// other than its namespace.
const ProjectLabel = "opshub.dev/project"

// byController indexes pods and ReplicaSets by the UID of their controller.
const byController = "opshub-controller-uid"

func controllerUIDIndex(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(m); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// Workload kinds that are services.
const (
	kindDeployment  = "Deployment"
	kindStatefulSet = "StatefulSet"
	kindReplicaSet  = "ReplicaSet"
)

// workload is a Deployment or StatefulSet seen as a service.
type workload struct {
	kind      string
	namespace string
	name      string
	uid       types.UID
	project   string
	replicas  int
}

func (w workload) ref() model.Ref { return model.Ref{Project: w.project, Service: w.name} }

func projectOf(m metav1.Object) string {
	if p := m.GetLabels()[ProjectLabel]; p != "" {
		return p
	}
	return m.GetNamespace()
}

func replicasOf(r *int32) int {
	if r == nil {
		return 1 // the API's default
	}
	return int(*r)
}

func deploymentWorkload(d *appsv1.Deployment) workload {
	return workload{kind: kindDeployment, namespace: d.Namespace, name: d.Name, uid: d.UID, project: projectOf(d), replicas: replicasOf(d.Spec.Replicas)}
}

func statefulSetWorkload(s *appsv1.StatefulSet) workload {
	return workload{kind: kindStatefulSet, namespace: s.Namespace, name: s.Name, uid: s.UID, project: projectOf(s), replicas: replicasOf(s.Spec.Replicas)}
}

// errOwnerNotCached says a pod's owner is not in the cache yet: its watch
// event has not arrived. The pod is looked at again shortly.
var errOwnerNotCached = errors.New("owner not in cache yet")

// serviceOf follows a pod's controller chain (pod → ReplicaSet → Deployment,
// pod → StatefulSet, pod → Job, or pod → Job → CronJob) through the caches.
// It returns the zero Ref for pods that belong to no service or job (bare
// pods, DaemonSets).
func (p *Platform) serviceOf(pod *corev1.Pod) (model.Ref, error) {
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		return model.Ref{}, nil
	}
	switch owner.Kind {
	case kindStatefulSet:
		s, err := p.statefulSets.StatefulSets(pod.Namespace).Get(owner.Name)
		if err != nil {
			return model.Ref{}, ownerErr(pod, owner, err)
		}
		if s.UID != owner.UID {
			return model.Ref{}, nil
		}
		return statefulSetWorkload(s).ref(), nil
	case kindReplicaSet:
		rs, err := p.replicaSets.ReplicaSets(pod.Namespace).Get(owner.Name)
		if err != nil {
			return model.Ref{}, ownerErr(pod, owner, err)
		}
		if rs.UID != owner.UID {
			return model.Ref{}, nil
		}
		dref := metav1.GetControllerOf(rs)
		if dref == nil || dref.Kind != kindDeployment {
			return model.Ref{}, nil
		}
		d, err := p.deployments.Deployments(pod.Namespace).Get(dref.Name)
		if err != nil {
			return model.Ref{}, ownerErr(pod, dref, err)
		}
		if d.UID != dref.UID {
			return model.Ref{}, nil
		}
		return deploymentWorkload(d).ref(), nil
	case kindJob:
		j, err := p.jobs.Jobs(pod.Namespace).Get(owner.Name)
		if err != nil {
			return model.Ref{}, ownerErr(pod, owner, err)
		}
		if j.UID != owner.UID {
			return model.Ref{}, nil
		}
		if cron := cronJobOf(j); cron != nil {
			return model.Ref{Project: projectOf(j), Service: cron.Name}, nil
		}
		return jobWorkload(j).ref(), nil
	}
	return model.Ref{}, nil
}

func ownerErr(pod *corev1.Pod, owner *metav1.OwnerReference, err error) error {
	if apierrors.IsNotFound(err) {
		err = errOwnerNotCached
	}
	return fmt.Errorf("pod %s/%s: %s %s: %w", pod.Namespace, pod.Name, owner.Kind, owner.Name, err)
}

// labelsEverything selects every object of a lister.
var labelsEverything = labels.Everything()
