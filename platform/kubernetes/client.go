package kubernetes

import (
	"errors"
	"fmt"
	"net/http"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// userAgent is how opshub names itself to the API server.
const userAgent = "opshub"

// NewClient connects to the cluster the way the config's
// platform.kubeconfig says: the named kubeconfig file, or, when it is empty,
// the in-cluster service account, then $KUBECONFIG, then ~/.kube/config.
func NewClient(kubeconfig string) (kubernetes.Interface, error) {
	return NewClientWith(kubeconfig, ClientOptions{})
}

// ClientOptions change how NewClientWith connects.
type ClientOptions struct {
	// WrapTransport, when set, wraps the transport of every request (the
	// end-to-end tests count a collector's requests with it).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// QPS and Burst bound the client's requests a second (client-go's
	// token bucket); 0 keeps client-go's defaults (5 and 10).
	QPS   float32
	Burst int
}

// NewClientWith is NewClient with options.
func NewClientWith(kubeconfig string, opts ClientOptions) (kubernetes.Interface, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = userAgent
	if opts.WrapTransport != nil {
		cfg.Wrap(opts.WrapTransport)
	}
	if opts.QPS > 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			return cfg, nil
		}
		if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		if kubeconfig != "" {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}
