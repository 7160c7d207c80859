package spend

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/opshub/opshub/model"
)

// Container is one container's resources at a tick.
type Container struct {
	Ref model.Ref
	// NodePool is the pool of the node the container runs on, for
	// per-pool prices; empty when unknown or on a single machine.
	NodePool string
	// Running is false for containers that never started (pending, waiting
	// in back-off): they are not charged.
	Running bool
	// Requests and usage: cores and bytes.
	CPURequest, CPUUsage       float64
	MemoryRequest, MemoryUsage float64
}

// Volume is one volume, charged by capacity.
type Volume struct {
	Ref           model.Ref // Project, Service, and the volume name in Instance
	CapacityBytes float64
}

// Entry is an amount charged to one bucket: one hour, one instance, one resource.
type Entry struct {
	Hour     time.Time `json:"hour"` // start of the hour in the billing time zone
	Project  string    `json:"project"`
	Service  string    `json:"service"`
	Instance string    `json:"instance"`
	Resource Resource  `json:"resource"`
	Cost     float64   `json:"cost"`
}

// LedgerStore keeps the ledger durable. Commit must apply the entries and
// move the cursor in one atomic step: that is what makes a crash between two
// ticks neither lose nor double a minute.
type LedgerStore interface {
	// Load returns the last charged minute (zero if none) and every entry.
	Load() (cursor time.Time, entries []Entry, err error)
	// Commit adds the entries' costs to their buckets and sets the cursor.
	Commit(cursor time.Time, entries []Entry) error
	// Roll removes the buckets of removed and adds the costs of added to
	// theirs, in one transaction.
	Roll(removed, added []Entry) error
}

// MaxGap bounds how many minutes one tick charges after a pause (opshub
// stopped, a controller failover): the containers are charged as they are
// now for at most this long.
const MaxGap = 24 * time.Hour

// Ledger accumulates costs minute by minute into hourly buckets.
type Ledger struct {
	model  Model
	tz     *time.Location
	store  LedgerStore
	cursor time.Time
	hours  map[bucket]float64
	// retention is what Compact keeps (DefaultRetention unless set).
	retention Retention
}

type bucket struct {
	hour                       time.Time
	project, service, instance string
	resource                   Resource
}

// OpenLedger loads the ledger from its store. tz is the billing time zone.
func OpenLedger(m Model, tz *time.Location, store LedgerStore) (*Ledger, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if tz == nil {
		tz = time.UTC
	}
	if store == nil {
		return nil, errors.New("spend: no ledger store")
	}
	cursor, entries, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("spend: load ledger: %w", err)
	}
	l := &Ledger{model: m, tz: tz, store: store, cursor: cursor, hours: map[bucket]float64{}, retention: DefaultRetention}
	for _, e := range entries {
		l.hours[bucketOf(e, tz)] += e.Cost
	}
	return l, nil
}

func bucketOf(e Entry, tz *time.Location) bucket {
	return bucket{hour: e.Hour.In(tz), project: e.Project, service: e.Service, instance: e.Instance, resource: e.Resource}
}

// Cursor is the last minute charged.
func (l *Ledger) Cursor() time.Time { return l.cursor }

// hourStart is the start of t's hour in the billing time zone (zones with
// half-hour offsets keep their own hours).
func (l *Ledger) hourStart(t time.Time) time.Time {
	lt := t.In(l.tz)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), 0, 0, 0, l.tz)
}

// Tick charges every whole minute since the cursor up to now with the
// containers and volumes as they are now, and commits it atomically. The
// first tick of a new ledger only sets the cursor.
func (l *Ledger) Tick(now time.Time, containers []Container, volumes []Volume) error {
	end := now.Truncate(time.Minute)
	if l.cursor.IsZero() {
		if err := l.store.Commit(end, nil); err != nil {
			return fmt.Errorf("spend: commit ledger: %w", err)
		}
		l.cursor = end
		return nil
	}
	if !end.After(l.cursor) {
		return nil
	}
	start := l.cursor
	if end.Sub(start) > MaxGap {
		start = end.Add(-MaxGap)
	}
	agg := map[bucket]float64{}
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		hour := l.hourStart(m)
		for _, c := range containers {
			if !c.Running {
				continue
			}
			p := l.model.PricesFor(c.Ref.Project, c.NodePool)
			cpu := l.model.quantity(c.CPURequest, c.CPUUsage) * p.CPUCoreHour / 60
			mem := l.model.quantity(c.MemoryRequest, c.MemoryUsage) / gib * p.MemoryGiBHour / 60
			agg[bucket{hour, c.Ref.Project, c.Ref.Service, c.Ref.Instance, CPU}] += cpu
			agg[bucket{hour, c.Ref.Project, c.Ref.Service, c.Ref.Instance, Memory}] += mem
		}
		for _, v := range volumes {
			p := l.model.PricesFor(v.Ref.Project, "")
			agg[bucket{hour, v.Ref.Project, v.Ref.Service, v.Ref.Instance, Storage}] += v.CapacityBytes / gib * p.StorageGiBMonth / HoursPerMonth / 60
		}
	}
	entries := make([]Entry, 0, len(agg))
	for b, cost := range agg {
		if cost == 0 {
			continue
		}
		entries = append(entries, Entry{Hour: b.hour, Project: b.project, Service: b.service, Instance: b.instance, Resource: b.resource, Cost: cost})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Hour.Before(entries[j].Hour) })
	if err := l.store.Commit(end, entries); err != nil {
		return fmt.Errorf("spend: commit ledger: %w", err)
	}
	for _, e := range entries {
		l.hours[bucketOf(e, l.tz)] += e.Cost
	}
	l.cursor = end
	return nil
}
