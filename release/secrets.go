package release

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/store"
)

// Secret values (variables a run spec marks secret, from secret groups)
// never leave the Manager in clear: the history and the config specs in the
// state file, the releases the API lists and the events all carry a sealed
// value instead, "<secret:" and the first 16 hex digits of an HMAC-SHA256
// of the value under a key kept in the state file, ">". That is enough to
// tell that a value changed between two revisions and nothing more.
//
// The platform needs the values themselves. The Manager learns them from
// the specs it is handed (the config's, and the platform's current one),
// keeps them in memory by sealed value, and puts them back into a spec
// from the history before handing it to the platform (a rollback, the
// restart of a rollout). A value opshub has not seen since it started
// cannot be put back: such a rollback is refused, naming the variable.

const (
	sealPrefix = "<secret:"
	sealSuffix = ">"
	// bucketSecretKey holds the HMAC key of sealed values.
	bucketSecretKey = "release-secret-key"
)

// sealer seals secret values and remembers the values it sealed.
type sealer struct {
	key []byte

	mu     sync.Mutex
	values map[string]string // sealed → value
}

// newSealer loads the HMAC key from the state file, making one the first
// time.
func newSealer(db *store.DB) (*sealer, error) {
	b := store.NewBucket[[]byte](db, bucketSecretKey)
	key, ok, err := b.Get("hmac")
	if err != nil {
		return nil, fmt.Errorf("release: read the secret hash key: %w", err)
	}
	if !ok || len(key) < 32 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("release: make a secret hash key: %w", err)
		}
		if err := b.Put("hmac", key); err != nil {
			return nil, fmt.Errorf("release: store the secret hash key: %w", err)
		}
	}
	return &sealer{key: key, values: map[string]string{}}, nil
}

func isSealed(v string) bool {
	return strings.HasPrefix(v, sealPrefix) && strings.HasSuffix(v, sealSuffix) && len(v) == len(sealPrefix)+16+len(sealSuffix)
}

// sealValue seals one value and remembers it.
func (s *sealer) sealValue(v string) string {
	if isSealed(v) {
		return v
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(v))
	sealed := sealPrefix + hex.EncodeToString(m.Sum(nil))[:16] + sealSuffix
	s.mu.Lock()
	s.values[sealed] = v
	s.mu.Unlock()
	return sealed
}

// seal returns a copy of spec whose secret values are sealed.
func (s *sealer) seal(spec model.RunSpec) model.RunSpec {
	out := spec.Clone()
	for k, src := range spec.Sources {
		if v, ok := out.Env[k]; ok && src.Secret {
			out.Env[k] = s.sealValue(v)
		}
	}
	return out
}

// sealRelease seals the spec of a release.
func (s *sealer) sealRelease(rel model.Release) model.Release {
	rel.Spec = s.seal(rel.Spec)
	return rel
}

// remember learns the secret values of a spec that holds them.
func (s *sealer) remember(spec model.RunSpec) { s.seal(spec) }

// unseal returns a copy of spec with the secret values put back; the error
// names each variable whose value opshub does not know.
func (s *sealer) unseal(spec model.RunSpec) (model.RunSpec, error) {
	out := spec.Clone()
	var unknown []string
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range out.Env {
		if !out.Sources[k].Secret || !isSealed(v) {
			continue
		}
		clear, ok := s.values[v]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%s (%s)", k, out.Sources[k].From))
			continue
		}
		out.Env[k] = clear
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return spec, fmt.Errorf("the secret value of %s is no longer known to opshub (secret values are never stored; only those seen since opshub started can be restored)", strings.Join(unknown, ", "))
	}
	return out, nil
}

// Env lists the variables the platform's current template gives an
// instance of ref, sorted by name, each with its source; a secret value is
// shown as "<secret>", whoever asks.
func (m *Manager) Env(ctx context.Context, ref model.Ref) ([]model.EnvVar, error) {
	if er, ok := m.opts.Platform.(platform.EnvReader); ok {
		env, err := er.Env(ctx, ref.Project, ref.Service)
		if err != nil {
			return nil, specError(ref, err)
		}
		return env, nil
	}
	cur, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service)
	if err != nil {
		return nil, specError(ref, err)
	}
	out := make([]model.EnvVar, 0, len(cur.Env))
	for _, k := range slices.Sorted(maps.Keys(cur.Env)) {
		src := cur.Sources[k]
		v := cur.Env[k]
		if src.Secret {
			v = model.SecretValue
		}
		from := src.From
		if from == "" {
			from = model.SourceRelease
		}
		out = append(out, model.EnvVar{Name: k, Value: v, Source: from})
	}
	return out, nil
}
