package kubernetes

import (
	"cmp"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Workload kinds that are jobs. A Job is a job of its own name; the Jobs a
// CronJob starts are one job of the CronJob's name, as a workload with
// restartPolicy Never or OnFailure is one job on a single machine.
const (
	kindJob     = "Job"
	kindCronJob = "CronJob"
)

// kindRank orders workload kinds for the rule that the first of two
// workloads claiming the same project and name wins: services before jobs.
func kindRank(kind string) int {
	switch kind {
	case kindDeployment:
		return 0
	case kindStatefulSet:
		return 1
	case kindCronJob:
		return 2
	}
	return 3
}

// cronJobOf returns the controller reference of a Job started by a
// CronJob, or nil.
func cronJobOf(j *batchv1.Job) *metav1.OwnerReference {
	if ref := metav1.GetControllerOf(j); ref != nil && ref.Kind == kindCronJob {
		return ref
	}
	return nil
}

func jobWorkload(j *batchv1.Job) workload {
	return workload{kind: kindJob, namespace: j.Namespace, name: j.Name, uid: j.UID, project: projectOf(j), replicas: parallelismOf(j)}
}

// parallelismOf is how many pods a Job runs at once, the API's default 1
// when unset.
func parallelismOf(j *batchv1.Job) int {
	return replicasOf(j.Spec.Parallelism)
}

// jobWorkloads lists the Jobs in the caches as jobs: each Job without a
// CronJob, and each CronJob that has Jobs, seen through its newest Job
// (its project label and parallelism come from the CronJob's jobTemplate).
func (p *Platform) jobWorkloads() ([]workload, error) {
	jobs, err := p.jobs.List(labelsEverything)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	type cronKey struct {
		namespace string
		uid       types.UID
	}
	newest := map[cronKey]*batchv1.Job{}
	names := map[cronKey]string{}
	var out []workload
	for _, j := range jobs {
		ref := cronJobOf(j)
		if ref == nil {
			out = append(out, jobWorkload(j))
			continue
		}
		k := cronKey{j.Namespace, ref.UID}
		names[k] = ref.Name
		if n := newest[k]; n == nil || newerJob(j, n) {
			newest[k] = j
		}
	}
	for k, j := range newest {
		out = append(out, workload{kind: kindCronJob, namespace: k.namespace, name: names[k], uid: k.uid, project: projectOf(j), replicas: parallelismOf(j)})
	}
	return out, nil
}

func newerJob(a, b *batchv1.Job) bool {
	return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name)) > 0
}

// jobUIDsOf returns the UIDs of the Jobs whose pods are the job's
// instances: the Job itself, or every Job of a CronJob still in the cache
// (the CronJob's history limits bound them), oldest first.
func (p *Platform) jobUIDsOf(w workload) ([]types.UID, error) {
	if w.kind == kindJob {
		return []types.UID{w.uid}, nil
	}
	objs, err := p.jobIndex.ByIndex(byController, string(w.uid))
	if err != nil {
		return nil, fmt.Errorf("jobs of cronjob %s/%s: %w", w.namespace, w.name, err)
	}
	jobs := make([]*batchv1.Job, 0, len(objs))
	for _, obj := range objs {
		jobs = append(jobs, obj.(*batchv1.Job))
	}
	slices.SortFunc(jobs, func(a, b *batchv1.Job) int {
		if newerJob(a, b) {
			return 1
		}
		return -1
	})
	out := make([]types.UID, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.UID)
	}
	return out, nil
}

// isJob reports whether a workload is a job rather than a service.
func (w workload) isJob() bool { return w.kind == kindJob || w.kind == kindCronJob }
