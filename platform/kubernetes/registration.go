package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The Lease a collector keeps so that the controller finds it (see
// docs/kubernetes.md, "How collectors and the controller meet").
const (
	// CollectorLeasePrefix starts the name of every collector's Lease:
	// opshub-collector-<node>.
	CollectorLeasePrefix = "opshub-collector-"
	// NodeLabel on a collector's Lease names its node.
	NodeLabel = "opshub.dev/node"
	// URLAnnotation on a collector's Lease is where its node API answers.
	URLAnnotation = "opshub.dev/url"

	DefaultLeaseRenew    = 10 * time.Second
	DefaultLeaseDuration = 30 * time.Second
)

// CollectorLeaseLabels are the labels of every collector's Lease, which the
// controller selects them by.
func CollectorLeaseLabels(node string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "opshub",
		"app.kubernetes.io/component": "collector",
		NodeLabel:                     node,
	}
}

// RegistrationOptions configure a Registration.
type RegistrationOptions struct {
	Client kubernetes.Interface
	// Namespace holds the Lease: the collector's own (POD_NAMESPACE).
	Namespace string
	Node      string
	// URL is the advertised node API, e.g. http://10.1.2.3:7421.
	URL string
	// Holder names the holder in the Lease (the collector's pod); default
	// the node.
	Holder string
	// Renew is how often the Lease is renewed; Duration how long it holds
	// without renewal. Defaults 10s and 30s.
	Renew, Duration time.Duration
	Logger          *slog.Logger
	Now             func() time.Time
}

// Registration keeps a collector's Lease alive: it creates the Lease
// opshub-collector-<node> (or takes over the one a previous run left) and
// renews it every Renew. When it stops, the Lease is left to expire, which
// the controller reads as the collector being gone.
type Registration struct {
	opts  RegistrationOptions
	log   *slog.Logger
	lease *coordv1.Lease // the last version written, so renewals need no read
}

// NewRegistration checks the options; it makes no request.
func NewRegistration(opts RegistrationOptions) (*Registration, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("kubernetes: a client is required")
	case opts.Namespace == "":
		return nil, errors.New("kubernetes: the collector's namespace is required for its lease")
	case opts.Node == "":
		return nil, errors.New("kubernetes: the node is required for the collector's lease")
	case opts.URL == "":
		return nil, errors.New("kubernetes: the advertised URL is required for the collector's lease")
	}
	if opts.Holder == "" {
		opts.Holder = opts.Node
	}
	if opts.Renew <= 0 {
		opts.Renew = DefaultLeaseRenew
	}
	if opts.Duration <= 0 {
		opts.Duration = DefaultLeaseDuration
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registration{opts: opts, log: opts.Logger.With("component", "registration", "lease", CollectorLeasePrefix+opts.Node)}, nil
}

// Run renews the Lease until ctx ends. A failed renewal is logged and tried
// again at the next tick; Run does not give up, since the collector's other
// work does not depend on it.
func (r *Registration) Run(ctx context.Context) error {
	tick := time.NewTicker(r.opts.Renew)
	defer tick.Stop()
	failing := false
	for {
		if err := r.Renew(ctx); err != nil && ctx.Err() == nil {
			if !failing {
				r.log.Warn("renewing the collector's lease failed; the controller will treat this collector as gone once it expires", "err", err)
			}
			failing = true
		} else if failing && err == nil {
			r.log.Info("collector's lease renewed again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Renew writes the Lease once: it creates it, or updates the version it
// wrote last (reading it again only after a conflict).
func (r *Registration) Renew(ctx context.Context) error {
	leases := r.opts.Client.CoordinationV1().Leases(r.opts.Namespace)
	now := metav1.NewMicroTime(r.opts.Now())
	if r.lease == nil {
		cur, err := leases.Get(ctx, CollectorLeasePrefix+r.opts.Node, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created, err := leases.Create(ctx, r.desired(nil, now), metav1.CreateOptions{FieldManager: userAgent})
			if err != nil {
				return fmt.Errorf("create lease: %w", err)
			}
			r.lease = created
			r.log.Info("collector registered", "url", r.opts.URL)
			return nil
		case err != nil:
			return fmt.Errorf("get lease: %w", err)
		}
		r.lease = cur
	}
	updated, err := leases.Update(ctx, r.desired(r.lease, now), metav1.UpdateOptions{FieldManager: userAgent})
	if err != nil {
		r.lease = nil // read it again next time
		return fmt.Errorf("update lease: %w", err)
	}
	r.lease = updated
	return nil
}

// desired is the Lease as this collector writes it, based on cur (a copy
// is changed, never cur).
func (r *Registration) desired(cur *coordv1.Lease, now metav1.MicroTime) *coordv1.Lease {
	l := &coordv1.Lease{}
	if cur != nil {
		l = cur.DeepCopy()
	}
	l.Name = CollectorLeasePrefix + r.opts.Node
	l.Namespace = r.opts.Namespace
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	for k, v := range CollectorLeaseLabels(r.opts.Node) {
		l.Labels[k] = v
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[URLAnnotation] = r.opts.URL
	holder := r.opts.Holder
	seconds := int32(r.opts.Duration / time.Second)
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != holder {
		l.Spec.AcquireTime = &now
		if l.Spec.LeaseTransitions != nil || cur != nil {
			n := int32(0)
			if l.Spec.LeaseTransitions != nil {
				n = *l.Spec.LeaseTransitions
			}
			n++
			l.Spec.LeaseTransitions = &n
		}
	}
	l.Spec.HolderIdentity = &holder
	l.Spec.LeaseDurationSeconds = &seconds
	l.Spec.RenewTime = &now
	return l
}
