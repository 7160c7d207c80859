package spend

import (
	"fmt"
	"time"

	"github.com/opshub/opshub/store"
)

// DBStore keeps the ledger in opshub's state file: one record per hourly
// bucket and the cursor, committed together in one transaction.
type DBStore struct {
	db      *store.DB
	buckets *store.Bucket[Entry]
	cursor  *store.Bucket[time.Time]
}

var _ LedgerStore = (*DBStore)(nil)

// NewDBStore returns a ledger store in db.
func NewDBStore(db *store.DB) *DBStore {
	return &DBStore{db: db, buckets: store.NewBucket[Entry](db, "spend-ledger"), cursor: store.NewBucket[time.Time](db, "spend-cursor")}
}

func entryKey(e Entry) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s", e.Hour.UTC().Format(time.RFC3339), e.Project, e.Service, e.Instance, e.Resource)
}

// Load implements LedgerStore.
func (s *DBStore) Load() (time.Time, []Entry, error) {
	var (
		cursor  time.Time
		entries []Entry
	)
	err := s.db.View(func(tx *store.Tx) error {
		c, _, err := s.cursor.GetTx(tx, "cursor")
		if err != nil {
			return err
		}
		cursor = c
		return s.buckets.EachTx(tx, func(_ string, e Entry) (bool, error) {
			entries = append(entries, e)
			return true, nil
		})
	})
	return cursor, entries, err
}

// Roll implements LedgerStore.
func (s *DBStore) Roll(removed, added []Entry) error {
	return s.db.Update(func(tx *store.Tx) error {
		for _, e := range removed {
			if err := s.buckets.DeleteTx(tx, entryKey(e)); err != nil {
				return err
			}
		}
		return s.addTx(tx, added)
	})
}

func (s *DBStore) addTx(tx *store.Tx, entries []Entry) error {
	for _, e := range entries {
		key := entryKey(e)
		old, ok, err := s.buckets.GetTx(tx, key)
		if err != nil {
			return err
		}
		if ok {
			e.Cost += old.Cost
		}
		if err := s.buckets.PutTx(tx, key, e); err != nil {
			return err
		}
	}
	return nil
}

// Commit implements LedgerStore.
func (s *DBStore) Commit(cursor time.Time, entries []Entry) error {
	return s.db.Update(func(tx *store.Tx) error {
		if err := s.addTx(tx, entries); err != nil {
			return err
		}
		return s.cursor.PutTx(tx, "cursor", cursor)
	})
}
