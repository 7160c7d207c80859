package alerting

import (
	"strings"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// DefaultDeliveriesKept is how many of the latest deliveries the store
// keeps unless Options.DeliveriesKept says otherwise (pending ones are
// always kept).
const DefaultDeliveriesKept = 10000

// What else the store keeps: resolved alerts for a week.
const (
	resolvedAlertsFor = 7 * 24 * time.Hour
	pruneEvery        = 10 * time.Minute
)

// prune bounds the history in the store: the oldest finished deliveries
// beyond keep (Options.DeliveriesKept), resolved alerts older than resolvedAlertsFor,
// throttle entries whose window has passed, and the message refs (threads)
// of alerts that are no longer kept.
func (p *Pipeline) prune(now time.Time, keep int) error {
	longest := time.Duration(0)
	for _, d := range p.opts.Rules.Throttle {
		longest = max(longest, d)
	}
	return p.opts.Store.Update(func(tx *store.Tx) error {
		var finished []string
		total := 0
		if err := p.deliveries.EachTx(tx, func(key string, d Delivery) (bool, error) {
			total++
			if d.State != DeliveryPending {
				finished = append(finished, key)
			}
			return true, nil
		}); err != nil {
			return err
		}
		for i := 0; i < total-keep && i < len(finished); i++ {
			if err := p.deliveries.DeleteTx(tx, finished[i]); err != nil {
				return err
			}
		}
		var oldAlerts []string
		if err := p.alerts.EachTx(tx, func(key string, a Alert) (bool, error) {
			if a.Status == model.StatusResolved && now.Sub(a.Updated) > resolvedAlertsFor {
				oldAlerts = append(oldAlerts, key)
			}
			return true, nil
		}); err != nil {
			return err
		}
		if err := deleteKeys(tx, p.alerts, oldAlerts); err != nil {
			return err
		}
		var oldRefs []string
		if err := p.refs.EachTx(tx, func(key string, _ string) (bool, error) {
			_, alertKey, _ := strings.Cut(key, "\x00")
			if _, ok, err := p.alerts.GetTx(tx, alertKey); err != nil || !ok {
				oldRefs = append(oldRefs, key)
				return true, err
			}
			return true, nil
		}); err != nil {
			return err
		}
		if err := deleteKeys(tx, p.refs, oldRefs); err != nil {
			return err
		}
		var oldWindows []string
		if err := p.throttle.EachTx(tx, func(key string, last time.Time) (bool, error) {
			if now.Sub(last) > longest {
				oldWindows = append(oldWindows, key)
			}
			return true, nil
		}); err != nil {
			return err
		}
		if err := deleteKeys(tx, p.throttle, oldWindows); err != nil {
			return err
		}
		return nil
	})
}

// deleteKeys deletes keys from b in tx.
func deleteKeys[T any](tx *store.Tx, b *store.Bucket[T], keys []string) error {
	for _, k := range keys {
		if err := b.DeleteTx(tx, k); err != nil {
			return err
		}
	}
	return nil
}
