package continuous

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/opshub/opshub/outbound"
)

// Source is a repository and the tag, or semver range of tags, whose digest
// is followed.
type Source struct {
	// Image is the repository: registry.example.com/acme/web.
	Image string
	// Tag is followed as it is; Semver, when set instead, follows the
	// highest tag that is a version in the range.
	Tag    string
	Semver string
	// Interval between two polls; default 1m.
	Interval time.Duration
	Auth     Auth
}

// Auth are a registry's credentials; the zero value is anonymous (a token
// service still hands out anonymous tokens). At most one kind is set.
type Auth struct {
	Username, Password string
	// Token is sent as a bearer token as it is.
	Token string
	// PullSecret names a Kubernetes image pull Secret in the target's
	// project, read through Options.PullSecret at each poll.
	PullSecret string
	// DockerConfigFile is a Docker config.json, read at each poll.
	DockerConfigFile string
}

// Resolved is what a tag points at.
type Resolved struct {
	// Tag is the tag read: the configured one, or the highest in the
	// range.
	Tag    string
	Digest string
}

// registry reads tags and digests. Its HTTP client is outbound's, and
// go-containerregistry's own retries are off: a 429 or 5xx ends the poll
// with an outbound.RetryableError carrying the Retry-After wait, and the
// watcher's loop decides when to ask again (outbound.Backoff).
type registry struct {
	transport http.RoundTripper
	// secret reads a pull Secret's .dockerconfigjson.
	secret func(ctx context.Context, namespace, name string) ([]byte, error)
	now    func() time.Time
}

func newRegistry(secret func(ctx context.Context, namespace, name string) ([]byte, error), now func() time.Time) (*registry, error) {
	client, err := outbound.NewClient("registry", outbound.ClientConfig{}, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &registry{transport: &limitTransport{next: client.Transport, now: now}, secret: secret, now: now}, nil
}

// resolve reads the digest src's tag points at now; namespace is where a
// pull Secret is read from.
func (r *registry) resolve(ctx context.Context, src Source, namespace string) (Resolved, error) {
	repo, err := name.NewRepository(src.Image)
	if err != nil {
		return Resolved{}, fmt.Errorf("image %q: %w", src.Image, err)
	}
	auth, err := r.authenticator(ctx, src.Auth, repo.RegistryStr(), namespace)
	if err != nil {
		return Resolved{}, err
	}
	opts := []remote.Option{
		remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(r.transport),
		remote.WithUserAgent("opshub"),
		remote.WithRetryStatusCodes(), remote.WithRetryPredicate(func(error) bool { return false }),
	}
	tag := src.Tag
	if src.Semver != "" {
		tags, err := remote.List(repo, opts...)
		if err != nil {
			return Resolved{}, fmt.Errorf("list tags of %s: %w", src.Image, err)
		}
		tag, err = highest(tags, src.Semver)
		if err != nil {
			return Resolved{}, fmt.Errorf("%s: %w", src.Image, err)
		}
	}
	desc, err := remote.Head(repo.Tag(tag), opts...)
	if err == nil {
		return Resolved{Tag: tag, Digest: desc.Digest.String()}, nil
	}
	if !outbound.IsRetryable(err) {
		// A HEAD answer has no body to say why; a GET's does (and a
		// registry without HEAD on manifests answers it).
		got, gerr := remote.Get(repo.Tag(tag), opts...)
		if gerr == nil {
			return Resolved{Tag: tag, Digest: got.Digest.String()}, nil
		}
		err = gerr
	}
	return Resolved{}, fmt.Errorf("read %s:%s: %w", src.Image, tag, err)
}

// highest is the highest tag that is a version in the range; tags that are
// no version are left out, and so are pre-releases unless the range names
// one (Masterminds/semver's rule).
func highest(tags []string, constraint string) (string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("semver %q: %w", constraint, err)
	}
	type tv struct {
		tag string
		v   *semver.Version
	}
	var in []tv
	for _, t := range tags {
		v, err := semver.NewVersion(t)
		if err != nil || !c.Check(v) {
			continue
		}
		in = append(in, tv{t, v})
	}
	if len(in) == 0 {
		return "", fmt.Errorf("no tag in semver range %q (of %d tags)", constraint, len(tags))
	}
	best := slices.MaxFunc(in, func(a, b tv) int {
		if c := a.v.Compare(b.v); c != 0 {
			return c
		}
		// 1.4.2 and v1.4.2 are the same version: take one of them
		// the same way each time.
		if a.tag < b.tag {
			return 1
		}
		return -1
	})
	return best.tag, nil
}

// authenticator turns the credentials into go-containerregistry's: basic
// (which it also hands to a token service), a bearer token, or the entry
// for this registry of a Docker config (a file or a pull Secret).
func (r *registry) authenticator(ctx context.Context, a Auth, host, namespace string) (authn.Authenticator, error) {
	switch {
	case a.Username != "":
		return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password}), nil
	case a.Token != "":
		return authn.FromConfig(authn.AuthConfig{RegistryToken: a.Token}), nil
	case a.DockerConfigFile != "":
		data, err := readDockerConfigFile(a.DockerConfigFile)
		if err != nil {
			return nil, fmt.Errorf("auth.dockerConfigFile: %w", err)
		}
		cfg, err := dockerCredentials(data, host)
		if err != nil {
			return nil, fmt.Errorf("auth.dockerConfigFile %s: %w", a.DockerConfigFile, err)
		}
		return authn.FromConfig(cfg), nil
	case a.PullSecret != "":
		if r.secret == nil {
			return nil, errors.New("auth.pullSecret: image pull Secrets are read on Kubernetes only")
		}
		data, err := r.secret(ctx, namespace, a.PullSecret)
		if err != nil {
			return nil, fmt.Errorf("auth.pullSecret %s/%s: %w", namespace, a.PullSecret, err)
		}
		cfg, err := dockerCredentials(data, host)
		if err != nil {
			return nil, fmt.Errorf("auth.pullSecret %s/%s: %w", namespace, a.PullSecret, err)
		}
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

// limitTransport turns a registry's 429 (and a 5xx) into the shared
// failure policy's error, with the wait its Retry-After asks for, before
// go-containerregistry sees the answer; every other answer passes as it
// is, 401 challenges included. Only these are retried before the next poll
// is due.
type limitTransport struct {
	next http.RoundTripper
	now  func() time.Time
}

func (t *limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		// Left as it is: a registry on plain HTTP fails the HTTPS try
		// that go-containerregistry makes first, every time.
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		err := outbound.CheckResponse(resp, t.now())
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Redacted(), err)
	}
	return resp, nil
}
