package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/opshub/opshub/internal/sinktest"
)

// dump lists every bucket's keys, values and sequence, the meta bucket
// included, as one comparable string.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			fmt.Fprintf(&b, "bucket %s seq %d\n", name, bk.Sequence())
			return bk.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&b, "  %q=%q\n", k, v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// churn makes Updates of every kind over a few buckets.
func churn(t *testing.T, db *DB, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		b := NewBucket[record](db, fmt.Sprintf("b%d", i%3))
		var err error
		switch i % 5 {
		case 0, 1:
			err = b.Put(fmt.Sprintf("k%03d", i%40), record{Name: strings.Repeat("x", i%17), Count: i})
		case 2:
			err = b.Delete(fmt.Sprintf("k%03d", (i*7)%40))
		case 3:
			_, err = b.NextSequence()
		case 4:
			err = db.Update(func(tx *Tx) error {
				for j := range 3 {
					if err := b.PutTx(tx, fmt.Sprintf("m%03d", (i+j)%50), record{Count: -i}); err != nil {
						return err
					}
				}
				return NewBucket[int](db, "other").DeleteTx(tx, "gone")
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplicatedReplayGivesIdenticalContents(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ReplicaOption
	}{
		{"log only", nil},
		{"checkpoints between", []ReplicaOption{WithCheckpoints(600, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &memReplica{}
			a := openReplicated(t, r, tc.opts...)
			churn(t, a, 0, 300)
			want := dump(t, a)
			if !strings.Contains(want, "bucket _replica") {
				t.Fatal("the file holds no sequence number")
			}
			if r.count() == 0 {
				t.Fatal("nothing was appended")
			}
			// A restarted process, and a process restarted from that one
			// after more writes: each sees exactly the same contents.
			b := openReplicated(t, r, tc.opts...)
			if got := dump(t, b); got != want {
				t.Fatalf("after replay:\n%s\nwant:\n%s", got, want)
			}
			a.Close()
			churn(t, b, 300, 200)
			want = dump(t, b)
			c := openReplicated(t, r)
			if got := dump(t, c); got != want {
				t.Fatalf("after the second replay:\n%s\nwant:\n%s", got, want)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(tc.opts) > 0 && r.checkpoints == 0 {
				t.Fatal("no checkpoint ran")
			}
		})
	}
}

func TestReplicatedFailedAppendIsCarriedByTheNext(t *testing.T) {
	r := &memReplica{}
	db := openReplicated(t, r)
	things := NewBucket[record](db, "things")
	if err := things.Put("a", record{}); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.failWith = errors.New("etcd leader changed")
	r.mu.Unlock()
	for _, k := range []string{"b", "c"} {
		var se *SaveError
		if err := things.Put(k, record{}); !errors.As(err, &se) {
			t.Fatalf("Put %s with a failing Append: %v, want a *SaveError", k, err)
		}
	}
	r.mu.Lock()
	r.failWith = nil
	r.mu.Unlock()
	before := r.count()
	if err := things.Put("d", record{}); err != nil {
		t.Fatal(err)
	}
	if got := r.count() - before; got != 1 {
		t.Fatalf("%d Appends, want 1 carrying the two failed records and the new one", got)
	}
	r.mu.Lock()
	var seqs []uint64
	for _, rec := range r.log {
		seqs = append(seqs, rec.Seq)
	}
	r.mu.Unlock()
	if fmt.Sprint(seqs) != "[1 2 3 4]" {
		t.Fatalf("log holds records %v, want [1 2 3 4]", seqs)
	}
	if got := fmt.Sprint(keys(t, openReplicated(t, r), "things")); got != "[a b c d]" {
		t.Fatalf("a new process sees %s", got)
	}
}

func TestReplicatedCheckpointRacingWritesLosesNothing(t *testing.T) {
	ckGate := make(chan struct{})
	r := &memReplica{ckGate: ckGate}
	db := openReplicated(t, r, WithCheckpoints(2000, 0))
	var mu sync.Mutex
	var infos []SaveInfo
	db.rep.opts.observe = func(s SaveInfo) { mu.Lock(); infos = append(infos, s); mu.Unlock() }

	const writers, each = 6, 60
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	write := func(from, to int) {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := NewBucket[int](db, fmt.Sprintf("w%d", w))
				for i := from; i < to; i++ {
					if err := b.Put(fmt.Sprintf("%03d", i), i); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	write(0, each/2)
	// A checkpoint has taken its snapshot and waits in the replica ...
	sinktest.WaitFor(t, 20*time.Second, "a checkpoint in flight", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.ckWaiting > 0
	})
	// ... while writes go on and return without it.
	write(each/2, each)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	// Let it, and whichever follow, finish.
	close(ckGate)
	checkpointed(t, db, r)
	other := openReplicated(t, r)
	wantEach(t, other, writers, each)
	if got, want := dump(t, other), dump(t, db); got != want {
		t.Fatal("the replica's copy differs from the file")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range infos {
		if s.Err != nil {
			t.Fatalf("%+v", s)
		}
	}
}

func TestReplicatedFullLogMakesWritesWaitForACheckpoint(t *testing.T) {
	ckGate := make(chan struct{})
	r := &memReplica{ckGate: ckGate, logLimit: 4 << 10}
	// No background checkpoint before the log is full.
	db := openReplicated(t, r, WithCheckpoints(1<<30, 0))
	things := NewBucket[string](db, "things")
	value := strings.Repeat("v", 500)
	i := 0
	for ; ; i++ {
		put := make(chan error, 1)
		go func() { put <- things.Put(fmt.Sprintf("k%03d", i), value) }()
		waiting := false
		sinktest.WaitFor(t, 20*time.Second, "the Put to return or wait for a checkpoint", func() bool {
			select {
			case err := <-put:
				if err != nil {
					t.Fatal(err)
				}
				return true
			default:
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			waiting = r.ckWaiting > 0
			return waiting
		})
		if !waiting {
			continue
		}
		// The log is full: this write waits for the checkpoint ...
		select {
		case err := <-put:
			t.Fatalf("Put returned (%v) while its checkpoint waited", err)
		default:
		}
		// ... and a write behind it waits too.
		next := make(chan error, 1)
		go func() { next <- things.Put("behind", value) }()
		ckGate <- struct{}{}
		if err := <-put; err != nil {
			t.Fatalf("Put after the checkpoint: %v", err)
		}
		if err := <-next; err != nil {
			t.Fatalf("Put behind the checkpoint: %v", err)
		}
		break
	}
	if i < 5 {
		t.Fatalf("the log was full after %d records", i)
	}
	// One record larger than the whole log goes through a checkpoint.
	go func() { ckGate <- struct{}{} }()
	if err := things.Put("huge", strings.Repeat("h", 10<<10)); err != nil {
		t.Fatal(err)
	}
	got, err := NewBucket[string](openReplicated(t, r), "things").List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != i+3 {
		t.Fatalf("a new process sees %d records, want %d", len(got), i+3)
	}
}

func TestReplicatedCorruptLogRecordIsNamed(t *testing.T) {
	r := &memReplica{}
	db := openReplicated(t, r)
	for i := range 3 {
		if err := NewBucket[int](db, "things").Put(fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	good := slices.Clone(r.log)
	r.log[1].Data = r.log[1].Data[:len(r.log[1].Data)-3]
	r.mu.Unlock()
	_, err := OpenReplicated(context.Background(), filepath.Join(t.TempDir(), "state.db"), r)
	if err == nil || !strings.Contains(err.Error(), "log record 2: malformed record: key longer than the record at byte 10 of 10") {
		t.Fatalf("open with a truncated record 2: %v", err)
	}

	r.mu.Lock()
	r.log = []Record{good[0], good[2]}
	r.mu.Unlock()
	_, err = OpenReplicated(context.Background(), filepath.Join(t.TempDir(), "state.db"), r)
	if err == nil || !strings.Contains(err.Error(), "log record 3 follows 1: records 2-2 are missing") {
		t.Fatalf("open with record 2 missing: %v", err)
	}
}
