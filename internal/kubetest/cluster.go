package kubetest

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DrivenAnnotation marks pods whose status the test writes: kwok leaves them
// alone. Put it on a pod template as DrivenAnnotation: "true".
const DrivenAnnotation = "opshub.dev/test-driven"

// NodeName is the simulated node every cluster has.
const NodeName = "kwok-node-0"

// startTimeout bounds how long each component may take to come up.
const startTimeout = 3 * time.Minute

// Options choose the components of a cluster.
type Options struct {
	// Scheduler starts kube-scheduler. Without it, pods must name their
	// node (spec.nodeName: NodeName) to run.
	Scheduler bool
	// Snapshots installs the VolumeSnapshot CRDs and starts the CSI
	// snapshot-controller. No CSI driver runs: a VolumeSnapshotContent
	// becomes ready only when the test writes its status, as a driver's
	// csi-snapshotter sidecar would.
	Snapshots bool
	// ControllerManagerQPS raises kube-controller-manager's request rate
	// (its --kube-api-qps, burst twice that) above its default of 20, for
	// clusters of thousands of pods; 0 keeps the default.
	ControllerManagerQPS int
	// PodCIDR is where kwok takes pod IPs from; default 10.0.0.1/24, which
	// holds 254 pods.
	PodCIDR string
}

// Cluster is a running control plane.
type Cluster struct {
	// Dir holds the components' data, keys and logs.
	Dir string
	// Kubeconfig is a kubeconfig file for a cluster administrator.
	Kubeconfig string
	// Config and Client talk to the API server as the administrator.
	Config *rest.Config
	Client kubernetes.Interface

	bin   string
	procs []*process
	t     testing.TB
}

// Start runs a control plane for the test and stops it when the test ends.
// Without the binaries it fails under CI and skips elsewhere, saying how to
// build them.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin, err := binDir()
	if err == nil {
		err = haveBinaries(bin, opts)
	}
	if err != nil {
		sinktest.Missing(t, fmt.Sprintf("needs the Kubernetes control plane, built by `make k8s-tools` (first build takes 10-30 min): %v", err))
	}
	c := &Cluster{Dir: t.TempDir(), bin: bin, t: t}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.procs {
				t.Logf("--- last lines of %s:\n%s", p.name, p.tail(25))
			}
		}
		c.stop()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*startTimeout)
	defer cancel()
	if err := c.start(ctx, opts); err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	return c
}

// binDir finds .cache/bin at the top of the checkout, or $OPSHUB_K8S_BIN.
func binDir() (string, error) {
	if d := os.Getenv("OPSHUB_K8S_BIN"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/opshub/opshub\n") {
			return filepath.Join(dir, ".cache", "bin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("top of the opshub checkout not found")
		}
		dir = parent
	}
}

func haveBinaries(bin string, opts Options) error {
	need := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kwok", "kwok-stages.yaml"}
	if opts.Scheduler {
		need = append(need, "kube-scheduler")
	}
	if opts.Snapshots {
		need = append(need, "snapshot-controller", "snapshot-crds.yaml")
	}
	var missing []string
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(bin, n)); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing in %s: %s", bin, strings.Join(missing, ", "))
	}
	return nil
}

func (c *Cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop()
	}
	c.procs = nil
}

func (c *Cluster) run(name string, args ...string) (*process, error) {
	p, err := startProcess(c.Dir, name, filepath.Join(c.bin, name), args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	etcdURL, err := c.startEtcd(ctx)
	if err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, etcdURL); err != nil {
		return err
	}
	kc := c.Kubeconfig
	kcm := []string{
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--leader-elect=false", "--controllers=*,-nodeipam,-nodelifecycle", "--secure-port=0",
		"--service-account-private-key-file=" + filepath.Join(c.Dir, "sa.key"),
		"--root-ca-file=" + filepath.Join(c.Dir, "certs", "apiserver.crt"),
		"--use-service-account-credentials=false",
	}
	if q := opts.ControllerManagerQPS; q > 0 {
		kcm = append(kcm, "--kube-api-qps="+strconv.Itoa(q), "--kube-api-burst="+strconv.Itoa(2*q))
	}
	if _, err := c.run("kube-controller-manager", kcm...); err != nil {
		return err
	}
	if opts.Scheduler {
		if _, err := c.run("kube-scheduler",
			"--kubeconfig="+kc, "--authentication-kubeconfig="+kc, "--authorization-kubeconfig="+kc,
			"--leader-elect=false", "--secure-port=0",
		); err != nil {
			return err
		}
	}
	if opts.Snapshots {
		if err := c.startSnapshotController(ctx); err != nil {
			return err
		}
	}
	if _, err := c.run("kwok",
		"--kubeconfig="+kc, "--config="+filepath.Join(c.bin, "kwok-stages.yaml"),
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--disregard-status-with-annotation-selector="+DrivenAnnotation+"=true",
		"--cidr="+cmp.Or(opts.PodCIDR, "10.0.0.1/24"), "--node-ip=10.0.0.1",
	); err != nil {
		return err
	}
	return c.addNode(ctx)
}

func (c *Cluster) startEtcd(ctx context.Context) (string, error) {
	client, peer := sinktest.FreePort(c.t), sinktest.FreePort(c.t)
	url := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	p, err := c.run("etcd",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+url, "--advertise-client-urls="+url,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync", "--log-level=warn",
	)
	if err != nil {
		return "", err
	}
	err = waitFor(ctx, p, "etcd health", func() bool {
		resp, err := http.Get(url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url, err
}

func (c *Cluster) startAPIServer(ctx context.Context, etcdURL string) error {
	if err := writeServiceAccountKeys(c.Dir); err != nil {
		return err
	}
	token := randomToken()
	tokens := filepath.Join(c.Dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	port := sinktest.FreePort(c.t)
	certDir := filepath.Join(c.Dir, "certs")
	p, err := c.run("kube-apiserver",
		"--etcd-servers="+etcdURL, "--secure-port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none", "--service-cluster-ip-range=10.0.0.0/24",
		"--cert-dir="+certDir,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(c.Dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(c.Dir, "sa.key"),
		"--token-auth-file="+tokens, "--authorization-mode=RBAC",
	)
	if err != nil {
		return err
	}
	host := "https://127.0.0.1:" + strconv.Itoa(port)
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if err := waitFor(ctx, p, "kube-apiserver /readyz", func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := insecure.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("kube-apiserver certificate: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["opshub-e2e"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: ca}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["opshub-e2e"] = &clientcmdapi.Context{Cluster: "opshub-e2e", AuthInfo: "admin"}
	kc.CurrentContext = "opshub-e2e"
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, c.Kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	c.Config = &rest.Config{Host: host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}, QPS: 100, Burst: 200}
	c.Client, err = kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	// The certificate must verify, or every client but ours would fail.
	if _, err := c.Client.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("kube-apiserver with its own certificate as CA: %w", err)
	}
	return nil
}

// addNode registers the simulated node, waits until kwok reports it Ready
// and lifts the not-ready taint that the disabled node lifecycle controller
// would otherwise lift.
func (c *Cluster) addNode(ctx context.Context) error {
	nodes := c.Client.CoreV1().Nodes()
	_, err := nodes.Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"kubernetes.io/hostname": NodeName, "type": "kwok"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create node %s: %w", NodeName, err)
	}
	var kwok *process
	for _, p := range c.procs {
		if p.name == "kwok" {
			kwok = p
		}
	}
	return waitFor(ctx, kwok, "node "+NodeName+" ready and untainted", func() bool {
		n, err := nodes.Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil || !nodeReady(n) {
			return false
		}
		if len(n.Spec.Taints) == 0 {
			return true
		}
		n = n.DeepCopy()
		n.Spec.Taints = nil
		_, _ = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return false
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Namespace creates a namespace with its default ServiceAccount (without
// which no pod is admitted) and deletes it when the test ends.
func (c *Cluster) Namespace(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	_, err := c.Client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create default service account in %s: %v", name, err)
	}
}

// waitFor polls ok until it holds, p (when set) exits, or ctx ends.
func waitFor(ctx context.Context, p *process, what string, ok func() bool) error {
	deadline, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok() {
			return nil
		}
		if p != nil {
			if done, err := p.exited(); done {
				return fmt.Errorf("%s: %s %v:\n%s", what, p.name, err, p.tail(20))
			}
		}
		select {
		case <-deadline.Done():
			if p != nil {
				return fmt.Errorf("%s: not within %s:\n%s", what, startTimeout, p.tail(20))
			}
			return fmt.Errorf("%s: not within %s", what, startTimeout)
		case <-tick.C:
		}
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeServiceAccountKeys writes the key pair the API server signs and
// checks service-account tokens with.
func writeServiceAccountKeys(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("service account public key: %w", err)
	}
	files := map[string]*pem.Block{
		"sa.key": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
		"sa.pub": {Type: "PUBLIC KEY", Bytes: pub},
	}
	for name, block := range files {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("service account key %s: %w", name, err)
		}
		w := bufio.NewWriter(f)
		if err := pem.Encode(w, block); err != nil {
			f.Close()
			return fmt.Errorf("service account key %s: %w", name, err)
		}
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			return fmt.Errorf("service account key %s: %w", name, err)
		}
	}
	return nil
}
