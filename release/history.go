package release

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Bucket names in the state file.
const (
	bucketReleases = "releases"
	// bucketConfigSpecs keeps, per service, the run spec the config file
	// gave it when opshub last looked, so that a config changed while
	// opshub was stopped rolls out as a config release at start.
	bucketConfigSpecs = "release-config-specs"
)

// history keeps every service's releases in the state file, keyed
// project/service/revision (zero-padded, so keys sort by revision).
type history struct {
	db       *store.DB
	releases *store.Bucket[model.Release]
	configs  *store.Bucket[model.RunSpec]
	limit    int
	// sealer seals secret values before anything is written: the state
	// file never holds one (see secrets.go).
	sealer *sealer
}

func newHistory(db *store.DB, limit int, s *sealer) *history {
	return &history{
		db:       db,
		releases: store.NewBucket[model.Release](db, bucketReleases),
		configs:  store.NewBucket[model.RunSpec](db, bucketConfigSpecs),
		limit:    limit,
		sealer:   s,
	}
}

func serviceKey(ref model.Ref) string { return ref.Project + "/" + ref.Service + "/" }

func releaseKey(ref model.Ref, revision int) string {
	return fmt.Sprintf("%s%010d", serviceKey(ref), revision)
}

// list returns a service's releases, newest first, secret values sealed.
func (h *history) list(ref model.Ref) ([]model.Release, error) {
	var out []model.Release
	prefix := serviceKey(ref)
	err := h.db.View(func(tx *store.Tx) error {
		return h.releases.EachTx(tx, func(key string, v model.Release) (bool, error) {
			if strings.HasPrefix(key, prefix) {
				out = append(out, v)
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read releases of %s: %w", ref, err)
	}
	slices.Reverse(out)
	return out, nil
}

// all returns every service's releases, newest first, in one read.
func (h *history) all() (map[model.Ref][]model.Release, error) {
	out := map[model.Ref][]model.Release{}
	err := h.db.View(func(tx *store.Tx) error {
		return h.releases.EachTx(tx, func(_ string, v model.Release) (bool, error) {
			ref := model.Ref{Project: v.Project, Service: v.Service}
			out[ref] = append(out[ref], v)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read releases: %w", err)
	}
	for _, rels := range out {
		slices.Reverse(rels)
	}
	return out, nil
}

// put stores releases (one transaction) and drops the oldest ones of their
// service beyond the history limit; a progressing release is never dropped.
func (h *history) put(rels ...model.Release) error {
	return h.db.Update(func(tx *store.Tx) error {
		for _, rel := range rels {
			ref := model.Ref{Project: rel.Project, Service: rel.Service}
			if err := h.releases.PutTx(tx, releaseKey(ref, rel.Revision), h.sealer.sealRelease(rel)); err != nil {
				return err
			}
		}
		services := map[string]bool{}
		for _, rel := range rels {
			services[serviceKey(model.Ref{Project: rel.Project, Service: rel.Service})] = true
		}
		return h.pruneTx(tx, services)
	})
}

// pruneTx drops the oldest releases beyond the limit of each service whose
// key prefix is in services, in one pass over the history.
func (h *history) pruneTx(tx *store.Tx, services map[string]bool) error {
	type entry struct{ key, state string }
	of := map[string][]entry{}
	err := h.releases.EachTx(tx, func(key string, v model.Release) (bool, error) {
		if prefix := key[:strings.LastIndexByte(key, '/')+1]; services[prefix] {
			of[prefix] = append(of[prefix], entry{key, v.State})
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, entries := range of {
		extra := len(entries) - h.limit
		for i := 0; i < len(entries) && extra > 0; i++ {
			if entries[i].state == model.ReleaseProgressing {
				continue
			}
			if err := h.releases.DeleteTx(tx, entries[i].key); err != nil {
				return err
			}
			extra--
		}
	}
	return nil
}

// configSpec is the spec the config gave ref when opshub last looked,
// secret values sealed.
func (h *history) configSpec(ref model.Ref) (model.RunSpec, bool, error) {
	return h.configs.Get(serviceKey(ref))
}

func (h *history) setConfigSpec(ref model.Ref, spec model.RunSpec) error {
	return h.configs.Put(serviceKey(ref), h.sealer.seal(spec))
}
