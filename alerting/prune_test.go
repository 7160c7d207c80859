package alerting

import (
	"fmt"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

func TestPruneKeepsPendingAndRecentHistory(t *testing.T) {
	db := openStore(t, t.TempDir())
	p, err := New(Options{Store: db, Rules: Rules{Throttle: map[string]time.Duration{ThrottleDefault: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(30 * 24 * time.Hour)
	const keep = 20
	err = db.Update(func(tx *store.Tx) error {
		for i := range keep + 5 {
			state := DeliveryDelivered
			if i == 0 {
				state = DeliveryPending // the oldest is still waiting: it stays
			}
			id := fmt.Sprintf("dlv_%012d", i+1)
			if err := p.deliveries.PutTx(tx, id, Delivery{ID: id, State: state}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.alerts.Put("old", Alert{Status: model.StatusResolved, Updated: now.Add(-8 * 24 * time.Hour)})
	_ = p.alerts.Put("firing", Alert{Status: model.StatusFiring, Updated: now.Add(-8 * 24 * time.Hour)})
	_ = p.refs.Put("slack\x00old", "thread-1")
	_ = p.refs.Put("slack\x00firing", "thread-2")
	_ = p.throttle.Put("stale", now.Add(-2*time.Hour))
	_ = p.throttle.Put("fresh", now.Add(-time.Minute))

	if err := p.prune(now, keep); err != nil {
		t.Fatal(err)
	}
	ds, _ := p.deliveries.List()
	if len(ds) != keep || ds[0].Value.State != DeliveryPending || ds[1].Key != "dlv_000000000007" {
		t.Errorf("kept %d deliveries starting %s, %s; want %d with the pending one and the newest", len(ds), ds[0].Key, ds[1].Key, keep)
	}
	if _, ok, _ := p.alerts.Get("old"); ok {
		t.Error("a resolved alert older than a week was kept")
	}
	if _, ok, _ := p.alerts.Get("firing"); !ok {
		t.Error("a firing alert was pruned")
	}
	if _, ok, _ := p.refs.Get("slack\x00old"); ok {
		t.Error("the message ref of a pruned alert was kept")
	}
	if _, ok, _ := p.refs.Get("slack\x00firing"); !ok {
		t.Error("the message ref of a firing alert was pruned")
	}
	if _, ok, _ := p.throttle.Get("stale"); ok {
		t.Error("a passed throttle window was kept")
	}
	if _, ok, _ := p.throttle.Get("fresh"); !ok {
		t.Error("a running throttle window was pruned")
	}
}
