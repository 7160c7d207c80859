package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ErrLeadershipLost is returned by Elector.Run when this process led and
// could no longer renew its Lease: another candidate may be leading now,
// so everything the lead function started has been stopped.
var ErrLeadershipLost = errors.New("leader election: lost the lease")

// LeaderOptions configure an Elector.
type LeaderOptions struct {
	// Client talks to the API server.
	Client kubernetes.Interface
	// Namespace and Name name the Lease.
	Namespace, Name string
	// Identity names this candidate in the Lease (holderIdentity); it must
	// differ between candidates. DefaultIdentity gives the pod's name.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's: a
	// leader that cannot renew within RenewDeadline stops leading, and a
	// candidate takes over a Lease not renewed for LeaseDuration.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Logger                                    *slog.Logger
}

// Elector runs one candidate of a leader election on a Lease with
// client-go's leaderelection package. It adds two promises to client-go's:
// the lead function has returned before this candidate releases the Lease,
// so a successor never overlaps with it on a graceful stop; and Run returns
// only after the lead function has returned.
type Elector struct {
	opts LeaderOptions
	log  *slog.Logger

	leader  atomic.Value // string: the last observed holder
	leading atomic.Bool
}

// DefaultIdentity is the candidate's name: $POD_NAME (from the downward
// API), else the host name and the process id.
func DefaultIdentity() string {
	if pod := os.Getenv("POD_NAME"); pod != "" {
		return pod
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "opshub"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// NewElector checks the options; it makes no request.
func NewElector(opts LeaderOptions) (*Elector, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("leader election: a client is required")
	case opts.Namespace == "" || opts.Name == "":
		return nil, errors.New("leader election: the Lease needs a namespace and a name")
	case opts.Identity == "":
		return nil, errors.New("leader election: an identity is required")
	case opts.RetryPeriod <= 0 || opts.RenewDeadline <= opts.RetryPeriod || opts.LeaseDuration <= opts.RenewDeadline:
		return nil, fmt.Errorf("leader election: want 0 < retryPeriod (%s) < renewDeadline (%s) < leaseDuration (%s)",
			opts.RetryPeriod, opts.RenewDeadline, opts.LeaseDuration)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Elector{opts: opts, log: log.With("component", "leader-election", "lease", opts.Namespace+"/"+opts.Name, "identity", opts.Identity)}
	e.leader.Store("")
	return e, nil
}

// Identity is this candidate's name.
func (e *Elector) Identity() string { return e.opts.Identity }

// Leader is the holder of the Lease as last observed, or "" before any
// was seen.
func (e *Elector) Leader() string { return e.leader.Load().(string) }

// Leading reports whether this candidate holds the Lease and its lead
// function runs.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx ends. Once elected it calls lead with a context
// that ends when ctx ends or when the Lease cannot be renewed, and waits for
// lead to return. On a stop through ctx it then releases the Lease, so that
// another candidate takes over at once.
//
// Run returns nil when ctx ended, lead's error when lead failed, and
// ErrLeadershipLost when the Lease was lost while leading. A candidate that
// led once does not campaign again: the caller exits, and its supervisor
// (the Deployment) starts a fresh process with fresh state.
func (e *Elector) Run(ctx context.Context, lead func(context.Context) error) error {
	// The election has its own context so that a stop through ctx first
	// ends lead and only then ends the election, which releases the Lease.
	electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()

	var (
		mu       sync.Mutex
		acquired bool // client-go took the Lease and will call OnStartedLeading
		leadErr  error
		ours     bool // we ended the election ourselves, after lead
	)
	leadDone := make(chan struct{})
	stopWaiting := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !acquired {
			stopElection()
		}
	})
	defer stopWaiting()

	lock := &resourcelock.LeaseLock{
		LeaseMeta: metav1.ObjectMeta{Namespace: e.opts.Namespace, Name: e.opts.Name},
		Client:    e.opts.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{
			Identity: e.opts.Identity,
			// client-go records "became leader" synchronously when it has
			// taken the Lease, before it starts OnStartedLeading in a
			// goroutine: that is the moment Run must wait for lead.
			EventRecorder: transitions(func(msg string) {
				if strings.HasSuffix(msg, "became leader") {
					mu.Lock()
					acquired = true
					mu.Unlock()
				}
			}),
		},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            e.opts.Name,
		LeaseDuration:   e.opts.LeaseDuration,
		RenewDeadline:   e.opts.RenewDeadline,
		RetryPeriod:     e.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leaseCtx context.Context) {
				defer close(leadDone)
				runCtx, cancel := context.WithCancel(leaseCtx)
				defer cancel()
				stopOnCtx := context.AfterFunc(ctx, cancel)
				defer stopOnCtx()

				e.leading.Store(true)
				e.log.Info("leading")
				err := lead(runCtx)
				e.leading.Store(false)

				mu.Lock()
				leadErr = err
				ours = leaseCtx.Err() == nil // the Lease was still ours when lead ended
				mu.Unlock()
				stopElection()
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(identity string) {
				e.leader.Store(identity)
				if identity != e.opts.Identity {
					e.log.Info("following", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	le.Run(electCtx)

	mu.Lock()
	wasAcquired := acquired
	mu.Unlock()
	if !wasAcquired {
		return nil
	}
	<-leadDone
	mu.Lock()
	defer mu.Unlock()
	switch {
	case leadErr != nil:
		return leadErr
	case !ours && ctx.Err() == nil:
		e.log.Warn("lost the lease; stopped leading")
		return ErrLeadershipLost
	}
	e.log.Info("stopped leading and released the lease")
	return nil
}

// transitions is a resourcelock.EventRecorder that hands the Lease's
// transition messages ("<identity> became leader", "… stopped leading") to
// a function instead of writing Events.
type transitions func(msg string)

func (t transitions) Eventf(_ runtime.Object, _, _, message string, args ...any) {
	t(fmt.Sprintf(message, args...))
}
