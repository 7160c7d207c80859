package spend

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/opshub/opshub/store"
)

// Series is one column of the ledger: a project's service's resource.
type Series struct {
	Project  string   `json:"p"`
	Service  string   `json:"s"`
	Resource Resource `json:"r"`
}

// HourCosts are the costs of one hour per series, in billionths of the
// currency unit: Costs[i] is column i of the series.
type HourCosts struct {
	Hour  time.Time // start of the hour
	Costs []int64
}

// DayCosts are the costs of one day (of a rolled-up month) per series, as
// HourCosts.
type DayCosts struct {
	Day   string // 2006-01-02, a calendar day of the billing time zone
	Costs []int64
}

// InstanceCosts are the totals of one service's instances in one month.
type InstanceCosts struct {
	Month            string // 2006-01, of the billing time zone
	Project, Service string
	Instances        map[string]InstanceTotal
}

// InstanceTotal is one instance's month: its costs in billionths of the
// currency unit (cpu, memory, volume) and the first and last hour it was
// charged, numbered as Unix seconds ÷ 3600.
type InstanceTotal struct {
	Costs [3]int64 `json:"c"`
	First int64    `json:"f"`
	Last  int64    `json:"l"`
}

// Entry is an amount charged to one hourly bucket of one instance and
// resource: the records of earlier versions, and what DBStore.Commit
// imports. A bucket without an instance is a day of a rolled-up month.
type Entry struct {
	Hour     time.Time `json:"hour"` // start of the hour in the billing time zone
	Project  string    `json:"project"`
	Service  string    `json:"service"`
	Instance string    `json:"instance"`
	Resource Resource  `json:"resource"`
	Cost     float64   `json:"cost"`
}

// Snapshot is the ledger as stored.
type Snapshot struct {
	// Cursor is the last minute charged; zero if none.
	Cursor    time.Time
	Series    map[int]Series
	Hours     []HourCosts
	Days      []DayCosts
	Instances []InstanceCosts
	// Legacy are hourly buckets of earlier versions, to be migrated.
	Legacy []Entry
}

// Batch is one atomic change of the stored ledger. Records are written
// whole; Drop* name records to delete (Instances by Month, Project and
// Service).
type Batch struct {
	// Cursor, when not zero, is the new last minute charged.
	Cursor        time.Time
	Series        map[int]Series
	DropSeries    []int
	Hours         []HourCosts
	DropHours     []time.Time
	Days          []DayCosts
	DropDays      []string
	Instances     []InstanceCosts
	DropInstances []InstanceCosts
	// DropLegacy deletes every hourly bucket of earlier versions.
	DropLegacy bool
}

// LedgerStore keeps the ledger durable. Write must apply a batch in one
// atomic step: the costs and the cursor move together, which is what makes
// a crash between two ticks neither lose nor double a minute.
type LedgerStore interface {
	Load() (Snapshot, error)
	Write(Batch) error
}

// DBStore keeps the ledger in opshub's state file, in few and small
// records: the series (one record each), one record per hour holding every
// series' cost of that hour, one per day of the rolled-up months, one per
// service and month with its instances' totals, and the cursor.
type DBStore struct {
	db        *store.DB
	cursor    *store.Bucket[time.Time]
	series    *store.Bucket[Series]
	hours     *store.Bucket[costsRecord]
	days      *store.Bucket[costsRecord]
	instances *store.Bucket[instancesRecord]
	legacy    *store.Bucket[Entry]
}

var _ LedgerStore = (*DBStore)(nil)

// NewDBStore returns a ledger store in db.
func NewDBStore(db *store.DB) *DBStore {
	return &DBStore{db: db,
		cursor:    store.NewBucket[time.Time](db, "spend-cursor"),
		series:    store.NewBucket[Series](db, "spend-series"),
		hours:     store.NewBucket[costsRecord](db, "spend-hours"),
		days:      store.NewBucket[costsRecord](db, "spend-days"),
		instances: store.NewBucket[instancesRecord](db, "spend-instances"),
		legacy:    store.NewBucket[Entry](db, "spend-ledger"),
	}
}

// costsRecord holds a row of costs as signed varints, base64 in JSON:
// about 5 bytes a series where decimal JSON would take 10 to 20.
type costsRecord struct {
	Costs packed `json:"c"`
}

type packed []int64

func (p packed) MarshalJSON() ([]byte, error) {
	n := len(p)
	for n > 0 && p[n-1] == 0 {
		n--
	}
	var buf []byte
	for _, v := range p[:n] {
		buf = binary.AppendVarint(buf, v)
	}
	return json.Marshal(base64.RawStdEncoding.EncodeToString(buf))
}

func (p *packed) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	buf, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	out := make([]int64, 0, len(buf)/4)
	for len(buf) > 0 {
		v, n := binary.Varint(buf)
		if n <= 0 {
			return errors.New("malformed costs")
		}
		out = append(out, v)
		buf = buf[n:]
	}
	*p = out
	return nil
}

type instancesRecord struct {
	Month     string                   `json:"m"`
	Project   string                   `json:"p"`
	Service   string                   `json:"s"`
	Instances map[string]InstanceTotal `json:"i"`
}

func seriesKey(i int) string     { return fmt.Sprintf("%06d", i) }
func hourKey(t time.Time) string { return t.UTC().Format(time.RFC3339) }
func instancesKey(c InstanceCosts) string {
	return c.Month + "|" + c.Project + "|" + c.Service
}

// Load implements LedgerStore.
func (s *DBStore) Load() (Snapshot, error) {
	snap := Snapshot{Series: map[int]Series{}}
	err := s.db.View(func(tx *store.Tx) error {
		c, _, err := s.cursor.GetTx(tx, "cursor")
		if err != nil {
			return err
		}
		snap.Cursor = c
		if err := s.series.EachTx(tx, func(k string, v Series) (bool, error) {
			i, err := strconv.Atoi(k)
			if err != nil {
				return false, fmt.Errorf("spend-series: key %q is not a number", k)
			}
			snap.Series[i] = v
			return true, nil
		}); err != nil {
			return err
		}
		if err := s.hours.EachTx(tx, func(k string, v costsRecord) (bool, error) {
			t, err := time.Parse(time.RFC3339, k)
			if err != nil {
				return false, fmt.Errorf("spend-hours: key %q is not a time", k)
			}
			snap.Hours = append(snap.Hours, HourCosts{Hour: t, Costs: v.Costs})
			return true, nil
		}); err != nil {
			return err
		}
		if err := s.days.EachTx(tx, func(k string, v costsRecord) (bool, error) {
			snap.Days = append(snap.Days, DayCosts{Day: k, Costs: v.Costs})
			return true, nil
		}); err != nil {
			return err
		}
		if err := s.instances.EachTx(tx, func(_ string, v instancesRecord) (bool, error) {
			snap.Instances = append(snap.Instances, InstanceCosts(v))
			return true, nil
		}); err != nil {
			return err
		}
		return s.legacy.EachTx(tx, func(_ string, e Entry) (bool, error) {
			snap.Legacy = append(snap.Legacy, e)
			return true, nil
		})
	})
	return snap, err
}

// Write implements LedgerStore.
func (s *DBStore) Write(b Batch) error {
	return s.db.Update(func(tx *store.Tx) error { return s.writeTx(tx, b) })
}

func (s *DBStore) writeTx(tx *store.Tx, b Batch) error {
	for _, i := range slices.Sorted(maps.Keys(b.Series)) {
		if err := s.series.PutTx(tx, seriesKey(i), b.Series[i]); err != nil {
			return err
		}
	}
	for _, i := range b.DropSeries {
		if err := s.series.DeleteTx(tx, seriesKey(i)); err != nil {
			return err
		}
	}
	slices.SortFunc(b.Hours, func(x, y HourCosts) int { return x.Hour.Compare(y.Hour) })
	for _, h := range b.Hours {
		if err := s.hours.PutTx(tx, hourKey(h.Hour), costsRecord{h.Costs}); err != nil {
			return err
		}
	}
	for _, h := range b.DropHours {
		if err := s.hours.DeleteTx(tx, hourKey(h)); err != nil {
			return err
		}
	}
	slices.SortFunc(b.Days, func(x, y DayCosts) int { return cmp.Compare(x.Day, y.Day) })
	for _, d := range b.Days {
		if err := s.days.PutTx(tx, d.Day, costsRecord{d.Costs}); err != nil {
			return err
		}
	}
	for _, d := range b.DropDays {
		if err := s.days.DeleteTx(tx, d); err != nil {
			return err
		}
	}
	for _, c := range b.Instances {
		if err := s.instances.PutTx(tx, instancesKey(c), instancesRecord(c)); err != nil {
			return err
		}
	}
	for _, c := range b.DropInstances {
		if err := s.instances.DeleteTx(tx, instancesKey(c)); err != nil {
			return err
		}
	}
	if b.DropLegacy {
		var keys []string
		if err := s.legacy.EachTx(tx, func(k string, _ Entry) (bool, error) {
			keys = append(keys, k)
			return true, nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := s.legacy.DeleteTx(tx, k); err != nil {
				return err
			}
		}
	}
	if b.Cursor.IsZero() {
		return nil
	}
	return s.cursor.PutTx(tx, "cursor", b.Cursor)
}

// Commit adds costs given as hourly buckets per instance (and daily ones
// without an instance) to the ledger in the state file and sets the
// cursor, in one transaction: for building a ledger from outside the
// meter, as an import or a benchmark does. It reads the whole ledger.
func (s *DBStore) Commit(cursor time.Time, entries []Entry) error {
	l, err := OpenLedger(Model{Basis: BasisMax}, time.UTC, s)
	if err != nil {
		return err
	}
	return l.commit(Batch{Cursor: cursor}, l.fold(entries), nil)
}

func sortedKeys[V any](m map[int64]V) []int64 { return slices.Sorted(maps.Keys(m)) }
