package spend

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
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

// MaxGap bounds how many minutes one tick charges after a pause (opshub
// stopped, a controller failover): the containers are charged as they are
// now for at most this long.
const MaxGap = 24 * time.Hour

// nano is the ledger's unit: costs are kept as whole billionths of the
// currency unit, which keeps sums exact and records small.
const nano = 1e9

// resources are the resources in the order of InstanceTotal.Costs.
var resources = [3]Resource{CPU, Memory, Storage}

func resourceIndex(r Resource) int {
	for i, x := range resources {
		if x == r {
			return i
		}
	}
	return -1
}

// Ledger accumulates costs minute by minute. It keeps, per project,
// service and resource (a series), the cost of every hour of the months
// within the retention's HourlyMonths and of every day of the months before;
// and per instance and resource the total of each hourly month with the
// first and last hour it was charged, from which reports by instance share
// out a service's cost (see Report).
type Ledger struct {
	model  Model
	tz     *time.Location
	store  LedgerStore
	cursor time.Time
	// retention is what Compact keeps (DefaultRetention unless set).
	retention Retention

	// series[i] is what column i of hours and days holds; a free column
	// (dropped by Compact, to be reused) has an empty Series.
	series []Series
	index  map[Series]int
	// unsaved are series not yet in the store.
	unsaved map[int]bool
	hours   rows // by hour index, see hourIndex
	days    rows // by day index, see dayIndex
	// residual is, per series, what was charged but not recorded yet: a
	// fraction of a nano. Carrying it keeps the sum of many small charges
	// exact to a nano instead of rounding each one.
	residual  []float64
	instances map[serviceMonth]*instanceMonth
}

// serviceMonth names the instance totals of one service in one month.
type serviceMonth struct {
	month            int // year*12 + month-1, in the billing time zone
	project, service string
}

type instanceMonth struct {
	instances map[string]*instanceTotal
	// dirty: charged since it was last written to the store.
	dirty bool
}

// instanceTotal is one instance's month in memory: costs in nanos, not
// rounded, and the first and last hour index charged.
type instanceTotal struct {
	costs       [3]float64
	first, last int64
}

// OpenLedger loads the ledger from its store. tz is the billing time zone.
// A store still holding the hourly buckets of earlier versions is migrated
// to the compact records in one transaction.
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
	snap, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("spend: load ledger: %w", err)
	}
	l := &Ledger{model: m, tz: tz, store: store, cursor: snap.Cursor, retention: DefaultRetention,
		index: map[Series]int{}, unsaved: map[int]bool{}, instances: map[serviceMonth]*instanceMonth{}}
	if err := l.restore(snap); err != nil {
		return nil, fmt.Errorf("spend: load ledger: %w", err)
	}
	if len(snap.Legacy) > 0 {
		if err := l.commit(Batch{DropLegacy: true}, l.fold(snap.Legacy), nil); err != nil {
			return nil, fmt.Errorf("spend: migrate the ledger's hourly buckets: %w", err)
		}
	}
	return l, nil
}

// Cursor is the last minute charged.
func (l *Ledger) Cursor() time.Time { return l.cursor }

// hourStart is the start of t's hour in the billing time zone (zones with
// half-hour offsets keep their own hours).
func (l *Ledger) hourStart(t time.Time) time.Time {
	lt := t.In(l.tz)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), 0, 0, 0, l.tz)
}

// hourIndex numbers the hours of the billing time zone: the hour holding t
// is the one starting in [index×3600, index×3600+3600) Unix seconds.
func (l *Ledger) hourIndex(t time.Time) int64 { return floorDiv(l.hourStart(t).Unix(), 3600) }

// hourAt is the start of the hour numbered i.
func (l *Ledger) hourAt(i int64) time.Time { return l.hourStart(time.Unix(i*3600+3599, 0)) }

// hourCeil is the index of the first hour starting at or after t.
func (l *Ledger) hourCeil(t time.Time) int64 {
	i := l.hourIndex(t)
	if l.hourAt(i).Before(t) {
		i++
	}
	return i
}

// dayIndex numbers the calendar days of the billing time zone (days since
// 1970-01-01).
func (l *Ledger) dayIndex(t time.Time) int64 {
	y, m, d := t.In(l.tz).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func (l *Ledger) dayAt(i int64) time.Time {
	u := time.Unix(i*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, l.tz)
}

// dayCeil is the index of the first day starting at or after t.
func (l *Ledger) dayCeil(t time.Time) int64 {
	i := l.dayIndex(t)
	if l.dayAt(i).Before(t) {
		i++
	}
	return i
}

func dayKey(i int64) string { return time.Unix(i*86400, 0).UTC().Format(time.DateOnly) }

func (l *Ledger) monthIndex(t time.Time) int {
	lt := t.In(l.tz)
	return lt.Year()*12 + int(lt.Month()) - 1
}

func monthKey(m int) string { return fmt.Sprintf("%04d-%02d", m/12, m%12+1) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// seriesFor returns the column of a series, adding it (to a free column
// if there is one) when new.
func (l *Ledger) seriesFor(s Series) int {
	if i, ok := l.index[s]; ok {
		return i
	}
	i := len(l.series)
	for j, x := range l.series {
		if x == (Series{}) {
			i = j
			break
		}
	}
	if i == len(l.series) {
		l.series = append(l.series, s)
		l.residual = append(l.residual, 0)
	} else {
		l.series[i] = s
		l.residual[i] = 0
	}
	l.index[s] = i
	l.unsaved[i] = true
	return i
}

// segment is the minutes of one tick that fall into one hour.
type segment struct {
	hour    int64
	month   int
	minutes float64
}

// charges is what a tick or an import adds before it is committed.
type charges struct {
	hours     map[int64][]float64 // hour index → nanos per series
	days      map[int64][]float64
	instances map[serviceMonth]map[string]*instanceTotal
}

func newCharges() *charges {
	return &charges{hours: map[int64][]float64{}, days: map[int64][]float64{}, instances: map[serviceMonth]map[string]*instanceTotal{}}
}

func (c *charges) add(r map[int64][]float64, i int64, s int, nanos float64) {
	row := r[i]
	if len(row) <= s {
		row = append(row, make([]float64, s+1-len(row))...)
		r[i] = row
	}
	row[s] += nanos
}

func (c *charges) instance(k serviceMonth, instance string, res int, nanos float64, hour int64) {
	m := c.instances[k]
	if m == nil {
		m = map[string]*instanceTotal{}
		c.instances[k] = m
	}
	t := m[instance]
	if t == nil {
		t = &instanceTotal{first: hour, last: hour}
		m[instance] = t
	}
	t.costs[res] += nanos
	t.first, t.last = min(t.first, hour), max(t.last, hour)
}

// Tick charges every whole minute since the cursor up to now with the
// containers and volumes as they are now, and commits it atomically. The
// first tick of a new ledger only sets the cursor.
func (l *Ledger) Tick(now time.Time, containers []Container, volumes []Volume) error {
	end := now.Truncate(time.Minute)
	if l.cursor.IsZero() {
		if err := l.store.Write(Batch{Cursor: end}); err != nil {
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
	var segs []segment
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		h := l.hourIndex(m)
		if n := len(segs); n > 0 && segs[n-1].hour == h {
			segs[n-1].minutes++
			continue
		}
		segs = append(segs, segment{hour: h, month: l.monthIndex(m), minutes: 1})
	}
	c := newCharges()
	charge := func(ref model.Ref, res Resource, perMinute float64) {
		if perMinute == 0 {
			return
		}
		s := l.seriesFor(Series{Project: ref.Project, Service: ref.Service, Resource: res})
		for _, sg := range segs {
			cost := perMinute * sg.minutes * nano
			c.add(c.hours, sg.hour, s, cost)
			c.instance(serviceMonth{sg.month, ref.Project, ref.Service}, ref.Instance, resourceIndex(res), cost, sg.hour)
		}
	}
	for _, ct := range containers {
		if !ct.Running {
			continue
		}
		p := l.model.PricesFor(ct.Ref.Project, ct.NodePool)
		charge(ct.Ref, CPU, l.model.quantity(ct.CPURequest, ct.CPUUsage)*p.CPUCoreHour/60)
		charge(ct.Ref, Memory, l.model.quantity(ct.MemoryRequest, ct.MemoryUsage)/gib*p.MemoryGiBHour/60)
	}
	for _, v := range volumes {
		p := l.model.PricesFor(v.Ref.Project, "")
		charge(v.Ref, Storage, v.CapacityBytes/gib*p.StorageGiBMonth/HoursPerMonth/60)
	}
	return l.commit(Batch{Cursor: end}, c, flushSlots(start, end))
}

// flushSlots are the minutes of the hour (0-59, of Unix time) in [start,
// end); nil when that is every minute.
func flushSlots(start, end time.Time) map[int64]bool {
	if end.Sub(start) >= time.Hour {
		return nil
	}
	slots := map[int64]bool{}
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		slots[(m.Unix()/60)%60] = true
	}
	return slots
}

// flushSlot spreads the writes of the instance totals over the hour: a
// service's are written at the tick that charges its minute of the hour.
func flushSlot(k serviceMonth) int64 {
	h := fnv.New32a()
	h.Write([]byte(k.project + "/" + k.service))
	return int64(h.Sum32() % 60)
}

// commit writes what c adds with b (the cursor, when set) in one
// transaction, and then applies it to memory. The hours it touches are written whole, the
// instance totals of the services whose flush slot is in slots (all with
// slots nil) too; the other instance totals stay in memory until their
// slot comes, so a minute's commit writes about a sixtieth of them.
func (l *Ledger) commit(b Batch, c *charges, slots map[int64]bool) error {
	residual := append([]float64(nil), l.residual...)
	newHours := map[int64][]int64{}
	addRows := func(dst *rows, src map[int64][]float64, out map[int64][]int64) {
		for _, i := range sortedKeys(src) {
			row := append([]int64(nil), dst.at(i)...)
			for s, v := range src[i] {
				if v == 0 {
					continue
				}
				x := v + residual[s]
				q := math.Round(x)
				residual[s] = x - q
				row = growTo(row, s+1)
				row[s] += int64(q)
			}
			out[i] = row
		}
	}
	addRows(&l.hours, c.hours, newHours)
	newDays := map[int64][]int64{}
	addRows(&l.days, c.days, newDays)
	for i, row := range newHours {
		b.Hours = append(b.Hours, HourCosts{Hour: l.hourAt(i), Costs: row})
	}
	for i, row := range newDays {
		b.Days = append(b.Days, DayCosts{Day: dayKey(i), Costs: row})
	}
	for s := range l.unsaved {
		if b.Series == nil {
			b.Series = map[int]Series{}
		}
		b.Series[s] = l.series[s]
	}
	// Instance totals: merged into memory only after the commit, but the
	// records written must hold what is charged now.
	flushed := map[serviceMonth]bool{}
	merged := func(k serviceMonth) map[string]InstanceTotal {
		m := &instanceMonth{instances: map[string]*instanceTotal{}}
		if cur := l.instances[k]; cur != nil {
			for name, t := range cur.instances {
				m.instances[name] = new(*t)
			}
		}
		m.charge(c.instances[k])
		out := make(map[string]InstanceTotal, len(m.instances))
		for name, t := range m.instances {
			out[name] = t.stored()
		}
		return out
	}
	consider := func(k serviceMonth) {
		if flushed[k] || (slots != nil && !slots[flushSlot(k)]) {
			return
		}
		flushed[k] = true
		b.Instances = append(b.Instances, InstanceCosts{Month: monthKey(k.month), Project: k.project, Service: k.service, Instances: merged(k)})
	}
	for k, m := range l.instances {
		if m.dirty {
			consider(k)
		}
	}
	for k := range c.instances {
		consider(k)
	}
	if err := l.store.Write(b); err != nil {
		return fmt.Errorf("spend: commit ledger: %w", err)
	}
	for i, row := range newHours {
		l.hours.set(i, row)
	}
	for i, row := range newDays {
		l.days.set(i, row)
	}
	l.residual = residual
	clear(l.unsaved)
	for k, add := range c.instances {
		m := l.instances[k]
		if m == nil {
			m = &instanceMonth{instances: map[string]*instanceTotal{}}
			l.instances[k] = m
		}
		m.charge(add)
		m.dirty = true
	}
	for k := range flushed {
		l.instances[k].dirty = false
	}
	if !b.Cursor.IsZero() {
		l.cursor = b.Cursor
	}
	return nil
}

// MaxInstances bounds the instances a service keeps totals of in a month
// (pods replaced by deploys or churn each count): past it, those that
// stopped being charged longest ago are merged into one total without an
// instance name. Instances still charged are never merged.
const MaxInstances = 50

// charge adds a tick's charges of the month's instances, then bounds them.
func (m *instanceMonth) charge(add map[string]*instanceTotal) {
	for name, t := range add {
		if cur := m.instances[name]; cur != nil {
			cur.add(t)
		} else {
			m.instances[name] = new(*t)
		}
	}
	m.bound()
}

func (m *instanceMonth) bound() {
	if len(m.instances) <= MaxInstances {
		return
	}
	newest := int64(math.MinInt64)
	for _, t := range m.instances {
		newest = max(newest, t.last)
	}
	var ended []string
	for name, t := range m.instances {
		if name != "" && t.last < newest {
			ended = append(ended, name)
		}
	}
	slices.SortFunc(ended, func(a, b string) int {
		return cmp.Or(cmp.Compare(m.instances[a].last, m.instances[b].last), cmp.Compare(a, b))
	})
	for _, name := range ended {
		if len(m.instances) <= MaxInstances {
			return
		}
		t := m.instances[name]
		delete(m.instances, name)
		if rest := m.instances[""]; rest != nil {
			rest.add(t)
		} else {
			m.instances[""] = t
		}
	}
}

func (t *instanceTotal) add(o *instanceTotal) {
	for r := range t.costs {
		t.costs[r] += o.costs[r]
	}
	t.first, t.last = min(t.first, o.first), max(t.last, o.last)
}

func (t instanceTotal) stored() InstanceTotal {
	var out InstanceTotal
	for r, c := range t.costs {
		out.Costs[r] = int64(math.Round(c))
	}
	out.First, out.Last = t.first, t.last
	return out
}

// Flush writes the instance totals still held in memory (Tick writes each
// service's once an hour); the meter calls it when it stops.
func (l *Ledger) Flush() error {
	return l.commit(Batch{}, newCharges(), nil)
}

func growTo(row []int64, n int) []int64 {
	if len(row) < n {
		row = append(row, make([]int64, n-len(row))...)
	}
	return row
}

// rows are the costs of consecutive hours (or days) per series: row i is
// hour (day) base+i, each value a series' cost in nanos; a nil row has none.
type rows struct {
	base int64
	rows [][]int64
}

func (r *rows) at(i int64) []int64 {
	if i < r.base || i >= r.base+int64(len(r.rows)) {
		return nil
	}
	return r.rows[i-r.base]
}

// span is [first, end) of the indexes held.
func (r *rows) span() (int64, int64) { return r.base, r.base + int64(len(r.rows)) }

func (r *rows) set(i int64, row []int64) {
	switch {
	case len(r.rows) == 0:
		r.base, r.rows = i, [][]int64{row}
		return
	case i < r.base:
		r.rows = append(make([][]int64, r.base-i), r.rows...)
		r.base = i
	case i >= r.base+int64(len(r.rows)):
		r.rows = append(r.rows, make([][]int64, i-r.base-int64(len(r.rows))+1)...)
	}
	r.rows[i-r.base] = row
}

// dropBefore forgets the rows before i.
func (r *rows) dropBefore(i int64) {
	first, end := r.span()
	switch {
	case i <= first:
	case i >= end:
		r.base, r.rows = 0, nil
	default:
		r.rows = append([][]int64(nil), r.rows[i-first:]...)
		r.base = i
	}
}

// restore fills memory from the stored records.
func (l *Ledger) restore(snap Snapshot) error {
	for i, s := range snap.Series {
		if i < 0 {
			return fmt.Errorf("series %d: negative index", i)
		}
		for len(l.series) <= i {
			l.series = append(l.series, Series{})
			l.residual = append(l.residual, 0)
		}
		l.series[i] = s
		l.index[s] = i
	}
	width := len(l.series)
	for _, h := range snap.Hours {
		if len(h.Costs) > width {
			return fmt.Errorf("hour %s: %d costs for %d series", h.Hour.Format(time.RFC3339), len(h.Costs), width)
		}
		i := l.hourIndex(h.Hour)
		row := growTo(append([]int64(nil), l.hours.at(i)...), len(h.Costs))
		for s, v := range h.Costs {
			row[s] += v
		}
		l.hours.set(i, row)
	}
	for _, d := range snap.Days {
		day, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			return fmt.Errorf("day %q: %w", d.Day, err)
		}
		if len(d.Costs) > width {
			return fmt.Errorf("day %s: %d costs for %d series", d.Day, len(d.Costs), width)
		}
		i := day.Unix() / 86400
		row := growTo(append([]int64(nil), l.days.at(i)...), len(d.Costs))
		for s, v := range d.Costs {
			row[s] += v
		}
		l.days.set(i, row)
	}
	for _, im := range snap.Instances {
		month, err := time.Parse("2006-01", im.Month)
		if err != nil {
			return fmt.Errorf("instances of %s/%s: month %q: %w", im.Project, im.Service, im.Month, err)
		}
		k := serviceMonth{month.Year()*12 + int(month.Month()) - 1, im.Project, im.Service}
		m := &instanceMonth{instances: map[string]*instanceTotal{}}
		for name, t := range im.Instances {
			it := &instanceTotal{first: t.First, last: t.Last}
			for r, c := range t.Costs {
				it.costs[r] = float64(c)
			}
			m.instances[name] = it
		}
		l.instances[k] = m
	}
	return nil
}

// fold turns costs in the form of hourly buckets (the records of earlier
// versions, or an import) into charges:
// a bucket without an instance is a day of a rolled-up month, the others
// are hours of a series and go to their instance's month too.
func (l *Ledger) fold(entries []Entry) *charges {
	c := newCharges()
	for _, e := range entries {
		res := resourceIndex(e.Resource)
		if res < 0 || e.Cost == 0 {
			continue
		}
		s := l.seriesFor(Series{Project: e.Project, Service: e.Service, Resource: e.Resource})
		cost := e.Cost * nano
		if e.Instance == "" {
			c.add(c.days, l.dayIndex(e.Hour), s, cost)
			continue
		}
		h := l.hourIndex(e.Hour)
		c.add(c.hours, h, s, cost)
		c.instance(serviceMonth{l.monthIndex(e.Hour), e.Project, e.Service}, e.Instance, res, cost, h)
	}
	return c
}
