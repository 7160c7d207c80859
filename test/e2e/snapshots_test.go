//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/platform/kubernetes"
)

// csiDriver is the CSI driver the test's volumes and snapshot class name.
// No such driver runs: the test writes what its csi-snapshotter sidecar
// would write on the VolumeSnapshotContents the snapshot-controller makes.
const csiDriver = "hostpath.csi.k8s.io"

// boundClaim creates a PersistentVolume of csiDriver and a claim bound to
// it, and waits until kube-controller-manager has bound them.
func boundClaim(t *testing.T, c *kubetest.Cluster, ns, claim string) {
	t.Helper()
	ctx := context.Background()
	size := resource.MustParse("1Gi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + ns + "-" + claim},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "csi",
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: csiDriver, VolumeHandle: "vol-" + claim}},
		},
	}
	if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	class := "csi"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &class, VolumeName: pv.Name,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if _, err := c.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "claim "+claim+" bound", func() error {
		got, err := c.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		return nil
	})
}

// dbStatefulSet is a StatefulSet of two replicas with a
// volumeClaimTemplate data, whose claims the test creates bound.
func dbStatefulSet() *appsv1.StatefulSet {
	replicas := int32(2)
	labels := map[string]string{"app": "db"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, ServiceName: "db",
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeName: kubetest.NodeName, Containers: []corev1.Container{{
					Name: "db", Image: "registry.example/db:1", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
				}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

// startSnapshotSidecar stands in for the CSI driver and its csi-snapshotter
// sidecar, which kwok cannot run: it marks ready to use the
// VolumeSnapshotContents of the snapshots of the flows named in ready.
func startSnapshotSidecar(t *testing.T, snaps snapclient.Interface, ready ...string) {
	inBackground(t, func(ctx context.Context) {
		contents, err := snaps.SnapshotV1().VolumeSnapshotContents().List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		for i := range contents.Items {
			readyContent(ctx, snaps, &contents.Items[i], ready)
		}
	})
}

func readyContent(ctx context.Context, snaps snapclient.Interface, content *snapv1.VolumeSnapshotContent, flows []string) {
	if st := content.Status; st != nil && st.ReadyToUse != nil && *st.ReadyToUse {
		return
	}
	ref := content.Spec.VolumeSnapshotRef
	vs, err := snaps.SnapshotV1().VolumeSnapshots(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil || !slices.Contains(flows, vs.Annotations[kubernetes.FlowLabel]) || content.Spec.Source.VolumeHandle == nil {
		return
	}
	c := content.DeepCopy()
	yes, size, now := true, int64(1<<30), time.Now().UnixNano()
	handle := "snap-" + *content.Spec.Source.VolumeHandle + "-" + string(content.UID)
	c.Status = &snapv1.VolumeSnapshotContentStatus{SnapshotHandle: &handle, ReadyToUse: &yes, RestoreSize: &size, CreationTime: &now}
	updated, err := snaps.SnapshotV1().VolumeSnapshotContents().UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return
	}
	// The sidecar says it has taken the snapshot by removing this.
	delete(updated.Annotations, "snapshot.storage.kubernetes.io/volumesnapshot-being-created")
	_, _ = snaps.SnapshotV1().VolumeSnapshotContents().Update(ctx, updated, metav1.UpdateOptions{})
}

// deletionAsked says which VolumeSnapshots of a run are still there
// without their deletion asked for. One whose content a driver took stays
// Terminating until the driver's sidecar has deleted it; none runs here.
func deletionAsked(t *testing.T, snaps snapclient.Interface, ns, run string) error {
	var left []string
	for _, vs := range snapshotsOfRun(t, snaps, ns, run) {
		if vs.DeletionTimestamp == nil {
			left = append(left, vs.Name)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("not deleted: %v", left)
	}
	return nil
}

// snapshotsOfRun lists the VolumeSnapshots in ns labelled with a run.
func snapshotsOfRun(t *testing.T, snaps snapclient.Interface, ns, run string) []snapv1.VolumeSnapshot {
	t.Helper()
	list, err := snaps.SnapshotV1().VolumeSnapshots(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kubernetes.FlowRunLabel + "=" + run})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// flowRunEnds waits until a run has ended and returns it.
func flowRunEnds(t *testing.T, api *client.Client, id string) client.FlowRun {
	t.Helper()
	var r client.FlowRun
	sinktest.Eventually(t, waitTimeout, "flow run "+id+" ends", func() error {
		var err error
		r, err = api.FlowRun(context.Background(), id)
		if err != nil || !r.Done() {
			return fmt.Errorf("run %+v (%v)", r, err)
		}
		return nil
	})
	return r
}

// TestFlowBackupStepIsAVolumeSnapshotOnKubernetes runs a flow's backup step
// on a real API server with the VolumeSnapshot CRDs and the real CSI
// snapshot-controller. What is exercised: the step creates one
// VolumeSnapshot per claim of a StatefulSet's volumeClaimTemplate, with the
// configured class, the claim as source and the run's labels and
// annotations; the snapshot-controller binds each to a
// VolumeSnapshotContent of the class's driver; the error the
// snapshot-controller writes for an unbound claim fails the step with its
// message; a snapshot that never becomes ready fails the step at its
// timeout; a failed attempt's snapshots are deleted (those bound to a
// content stay Terminating: the snapshot-controller asks the absent
// driver to delete what it took). What is not: no CSI
// driver runs on kwok, so readyToUse comes from the test writing the
// VolumeSnapshotContent's status as a driver's csi-snapshotter sidecar
// would, which the real snapshot-controller then copies onto the
// VolumeSnapshot.
func TestFlowBackupStepIsAVolumeSnapshotOnKubernetes(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{Snapshots: true})
	ctx := context.Background()
	c.Namespace(t, "opshub")
	c.Namespace(t, "shop")
	snaps, err := snapclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	class := &snapv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: "csi-snapclass"}, Driver: csiDriver, DeletionPolicy: snapv1.VolumeSnapshotContentDelete}
	if _, err := snaps.SnapshotV1().VolumeSnapshotClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	boundClaim(t, c, "shop", "data-db-0")
	boundClaim(t, c, "shop", "data-db-1")
	if _, err := c.Client.AppsV1().StatefulSets("shop").Create(ctx, dbStatefulSet(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// cache mounts a claim that no volume is bound to.
	cache := deployment("cache", 1, nil)
	cache.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "cache-data"}}}}
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, cache, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	none := "none"
	unbound := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "cache-data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &none,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	if _, err := c.Client.CoreV1().PersistentVolumeClaims("shop").Create(ctx, unbound, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	startSnapshotSidecar(t, snaps, "ship")

	run := runController(t, func(listen string) string {
		return controllerConfig(t, c, listen, "http://127.0.0.1:1/hook") + `
release:
  flows:
    - name: ship
      steps:
        - {name: backup, backup: {project: shop, service: db, volume: data, volumeSnapshotClass: csi-snapclass}, timeout: 2m}
    - name: unbound
      steps:
        - {name: backup, backup: {project: shop, service: cache, volume: data, volumeSnapshotClass: csi-snapclass}, timeout: 2m}
    - name: slow
      steps:
        - {name: backup, backup: {project: shop, service: db, volume: data, volumeSnapshotClass: csi-snapclass}, timeout: 4s}
`
	}, app.ControllerOptions{MetricsInterval: time.Second})
	api, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("one ready VolumeSnapshot per claim, labelled with the run", func(t *testing.T) {
		fr, err := api.RunFlow(ctx, "ship", nil)
		if err != nil {
			t.Fatal(err)
		}
		done := flowRunEnds(t, api, fr.ID)
		step := flowStep(done, "backup")
		t.Logf("the backup step took %s", step.Finished.Sub(step.Started).Round(time.Millisecond))
		if done.State != "succeeded" {
			lines, _ := api.FlowStepLogs(ctx, fr.ID, "backup")
			t.Fatalf("run %+v, want succeeded; step log:\n%s", done, strings.Join(lines, "\n"))
		}
		want := []string{"shop/" + fr.ID + "-backup-1-data-db-0", "shop/" + fr.ID + "-backup-1-data-db-1"}
		if !slices.Equal(step.Snapshots, want) {
			t.Errorf("step snapshots %v, want %v", step.Snapshots, want)
		}
		got := snapshotsOfRun(t, snaps, "shop", fr.ID)
		if len(got) != 2 {
			t.Fatalf("%d VolumeSnapshots labelled with the run, want 2", len(got))
		}
		for _, vs := range got {
			src := vs.Spec.Source.PersistentVolumeClaimName
			if src == nil || !strings.HasSuffix(vs.Name, *src) || vs.Spec.VolumeSnapshotClassName == nil || *vs.Spec.VolumeSnapshotClassName != "csi-snapclass" ||
				vs.Labels[kubernetes.FlowLabel] != "ship" || vs.Annotations[kubernetes.FlowRunLabel] != fr.ID || vs.Annotations[kubernetes.FlowStepAnnotation] != "backup" {
				t.Errorf("VolumeSnapshot %s: spec %+v, labels %v, annotations %v", vs.Name, vs.Spec, vs.Labels, vs.Annotations)
			}
			st := vs.Status
			if st == nil || st.ReadyToUse == nil || !*st.ReadyToUse || st.BoundVolumeSnapshotContentName == nil {
				t.Errorf("VolumeSnapshot %s status %+v, want ready and bound", vs.Name, st)
				continue
			}
			content, err := snaps.SnapshotV1().VolumeSnapshotContents().Get(ctx, *st.BoundVolumeSnapshotContentName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if content.Spec.Driver != csiDriver || content.Spec.Source.VolumeHandle == nil || *content.Spec.Source.VolumeHandle != "vol-"+*src {
				t.Errorf("the snapshot-controller's VolumeSnapshotContent %s: %+v", content.Name, content.Spec)
			}
		}
		lines, _ := api.FlowStepLogs(ctx, fr.ID, "backup")
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "is ready to use, restore size 1Gi") }) {
			t.Errorf("step log %q, want the snapshots' readiness", lines)
		}
	})

	t.Run("the snapshot-controller's error fails the step", func(t *testing.T) {
		fr, err := api.RunFlow(ctx, "unbound", nil)
		if err != nil {
			t.Fatal(err)
		}
		done := flowRunEnds(t, api, fr.ID)
		step := flowStep(done, "backup")
		if done.State != "failed" || !strings.Contains(step.Message, "VolumeSnapshot shop/"+fr.ID+"-backup-1-cache-data:") ||
			!strings.Contains(step.Message, "cache-data is not yet bound to a PV") {
			t.Errorf("run %+v, want the backup step failed with the snapshot's status.error", done)
		}
		sinktest.Eventually(t, waitTimeout, "the failed attempt's snapshot is deleted", func() error {
			if got := snapshotsOfRun(t, snaps, "shop", fr.ID); len(got) != 0 {
				return fmt.Errorf("%d snapshots left", len(got))
			}
			return nil
		})
		if len(step.Snapshots) != 0 {
			t.Errorf("failed step records snapshots %v", step.Snapshots)
		}
	})

	t.Run("a snapshot not ready by the step's timeout fails the step", func(t *testing.T) {
		fr, err := api.RunFlow(ctx, "slow", nil)
		if err != nil {
			t.Fatal(err)
		}
		done := flowRunEnds(t, api, fr.ID)
		step := flowStep(done, "backup")
		if done.State != "failed" || !strings.Contains(step.Message, "timed out after 4s") || !strings.Contains(step.Message, "not ready") {
			t.Errorf("run %+v, want the backup step failed at its timeout", done)
		}
		if got := snapshotsOfRun(t, snaps, "shop", fr.ID); len(got) != 2 {
			t.Errorf("%d VolumeSnapshots of the timed-out attempt, want 2", len(got))
		}
		sinktest.Eventually(t, waitTimeout, "the timed-out attempt's snapshots are deleted", func() error {
			return deletionAsked(t, snaps, "shop", fr.ID)
		})
	})
}
