package kubernetes

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func job(ns, name string, created time.Time, parallelism int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("job-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       batchv1.JobSpec{Parallelism: &parallelism},
	}
}

func TestJobsAreServicesLikeLocalJobs(t *testing.T) {
	migrate := job("shop", "migrate", t0, 2)
	oldReport := job("shop", "report-100", t0, 1)
	controlledBy(oldReport, kindCronJob, "report", "cron-report")
	newReport := job("shop", "report-200", t0.Add(time.Hour), 3)
	newReport.Labels = map[string]string{ProjectLabel: "finance"}
	controlledBy(newReport, kindCronJob, "report", "cron-report")
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "dep-web"}}
	webClash := job("shop", "web", t0, 1) // a Job with a service's name loses to it

	done := pod("shop", "migrate-a", migrate, kindJob)
	done.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
		State: corev1.ContainerState{Terminated: terminated(0, "Completed", t0)}}}}
	done.Spec.RestartPolicy = corev1.RestartPolicyNever
	p, _ := runFake(t, Options{}, migrate, oldReport, newReport, web, webClash,
		done, pod("shop", "migrate-b", migrate, kindJob),
		pod("shop", "report-100-x", oldReport, kindJob), pod("shop", "report-200-y", newReport, kindJob),
		pod("shop", "web-clash", webClash, kindJob))
	ctx := context.Background()

	names := sinktest.ServiceNames(t, p)
	if want := []string{"finance/report", "shop/migrate", "shop/web"}; !slices.Equal(names, want) {
		t.Errorf("services = %v, want %v", names, want)
	}
	tests := []struct {
		name      string
		project   string
		service   string
		replicas  int
		instances []string
	}{
		{"a Job is a job of its own name with its parallelism", "shop", "migrate", 2, []string{"migrate-a", "migrate-b"}},
		{"a CronJob's Jobs are one job named after it, seen through the newest", "finance", "report", 3, []string{"report-100-x", "report-200-y"}},
		{"a Deployment wins over a Job of the same name", "shop", "web", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := p.Service(ctx, tt.project, tt.service)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range svc.Instances {
				got = append(got, in.Name)
			}
			if svc.Replicas != tt.replicas || !slices.Equal(got, tt.instances) {
				t.Errorf("replicas %d, instances %v; want %d, %v", svc.Replicas, got, tt.replicas, tt.instances)
			}
		})
	}
	t.Run("a finished job pod is Terminated", func(t *testing.T) {
		svc, _ := p.Service(ctx, "shop", "migrate")
		if svc.Instances[0].Status != model.StatusTerminated {
			t.Errorf("status = %s, want Terminated", svc.Instances[0].Status)
		}
	})
	t.Run("a job is not scaled", func(t *testing.T) {
		err := p.Scale(ctx, "shop", "migrate", 3)
		if err == nil || !strings.Contains(err.Error(), "job") {
			t.Errorf("err = %v, want a job refusal", err)
		}
	})
}
