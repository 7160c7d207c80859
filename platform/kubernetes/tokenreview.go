package kubernetes

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ControllerIdentity is the identity a collector accepts by default: the
// controller's ServiceAccount in namespace.
func ControllerIdentity(namespace string) string {
	return "system:serviceaccount:" + namespace + ":opshub-controller"
}

// Token review cache lifetimes: an accepted token is trusted again for a
// minute (service account tokens live an hour or more), a refused one is
// refused again for ten seconds, so a misconfigured client cannot make the
// collector call the API server for every request.
const (
	reviewAcceptedTTL = time.Minute
	reviewRefusedTTL  = 10 * time.Second
	reviewCacheSize   = 256
)

// TokenReviewerOptions configure a TokenReviewer.
type TokenReviewerOptions struct {
	Client kubernetes.Interface
	// Allowed are the user names (for ServiceAccounts
	// system:serviceaccount:<namespace>:<name>) that may read. Required.
	Allowed []string
	// Audiences, when set, are the audiences the token must be meant for.
	Audiences []string
	Now       func() time.Time
}

// TokenReviewer authenticates bearer tokens through the API server's
// TokenReview API and allows the configured identities.
//
// Callers may rely on: Review returns the identity the API server
// authenticated ("" when it did not), whether that identity is allowed, and
// an error only when the API server could not answer; answers are cached by
// the token's SHA-256 sum (a minute when accepted, ten seconds when
// refused), never the token itself.
type TokenReviewer struct {
	opts TokenReviewerOptions

	mu    sync.Mutex
	cache map[[sha256.Size]byte]reviewResult
}

type reviewResult struct {
	identity string
	allowed  bool
	expires  time.Time
}

// NewTokenReviewer checks the options; it makes no request.
func NewTokenReviewer(opts TokenReviewerOptions) (*TokenReviewer, error) {
	if opts.Client == nil {
		return nil, errors.New("kubernetes: a client is required")
	}
	if len(opts.Allowed) == 0 {
		return nil, errors.New("kubernetes: token review needs at least one allowed identity")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &TokenReviewer{opts: opts, cache: map[[sha256.Size]byte]reviewResult{}}, nil
}

// Review asks the API server who token belongs to.
func (t *TokenReviewer) Review(ctx context.Context, token string) (identity string, allowed bool, err error) {
	sum := sha256.Sum256([]byte(token))
	now := t.opts.Now()
	t.mu.Lock()
	if r, ok := t.cache[sum]; ok && now.Before(r.expires) {
		t.mu.Unlock()
		return r.identity, r.allowed, nil
	}
	t.mu.Unlock()

	review, err := t.opts.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: t.opts.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", false, fmt.Errorf("token review: %w", err)
	}
	r := reviewResult{expires: now.Add(reviewRefusedTTL)}
	if review.Status.Authenticated {
		r.identity = review.Status.User.Username
		r.allowed = slices.Contains(t.opts.Allowed, r.identity)
	}
	if r.allowed {
		r.expires = now.Add(reviewAcceptedTTL)
	}
	t.mu.Lock()
	if len(t.cache) >= reviewCacheSize {
		for k, v := range t.cache {
			if !now.Before(v.expires) {
				delete(t.cache, k)
			}
		}
		if len(t.cache) >= reviewCacheSize {
			clear(t.cache)
		}
	}
	t.cache[sum] = r
	t.mu.Unlock()
	return r.identity, r.allowed, nil
}
