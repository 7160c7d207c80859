package sinks

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// drain reads and commits everything in b, in batches of n.
func drain(t *testing.T, b *buffer, n int) []string {
	t.Helper()
	var got []string
	for {
		recs, next, err := b.Peek(n, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return got
		}
		for _, r := range recs {
			got = append(got, r.rec.Log)
		}
		if err := b.Commit(next, len(recs)); err != nil {
			t.Fatal(err)
		}
	}
}

func logs(recs []model.LogRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Log)
	}
	return out
}

func TestBufferSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	b, err := openBuffer(dir, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := b.Append(ctx, sinktest.Numbered(i*100, i*100+100), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver the first 250, then stop without closing (a crash).
	recs, next, _ := b.Peek(250, 1<<30)
	if err := b.Commit(next, len(recs)); err != nil {
		t.Fatal(err)
	}

	b2, err := openBuffer(dir, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if _, events, _ := b2.Stats(); events != 750 {
		t.Fatalf("after restart the buffer counts %d records, want 750", events)
	}
	got := drain(t, b2, 64)
	if want := logs(sinktest.Numbered(250, 1000)); !slices.Equal(got, want) {
		t.Fatalf("after restart got %d records (%v…), want the 750 undelivered in order", len(got), got[:min(3, len(got))])
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) != 1 {
		t.Errorf("delivered segments were not removed: %v", segs)
	}
}

func TestBufferCutsTornLastRecord(t *testing.T) {
	tests := []struct {
		name string
		tear func(whole []byte) []byte // what the crash left of the last frame
	}{
		{"half a header", func(f []byte) []byte { return f[:3] }},
		{"header without payload", func(f []byte) []byte { return f[:frameHeader] }},
		{"payload cut short", func(f []byte) []byte { return f[:len(f)-5] }},
		{"payload garbled", func(f []byte) []byte {
			g := append([]byte(nil), f...)
			g[len(g)-3] ^= 0xff
			return g
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := slog.New(slog.DiscardHandler)
			b, err := openBuffer(dir, 1<<20, log)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Append(context.Background(), sinktest.Numbered(0, 5), time.Now()); err != nil {
				t.Fatal(err)
			}
			recs, next, _ := b.Peek(2, 1<<20)
			if err := b.Commit(next, len(recs)); err != nil {
				t.Fatal(err)
			}
			// The crash: a record half written to the end of the segment.
			torn := tt.tear(appendFrame(nil, sinktest.Numbered(5, 6)[0], time.Now()))
			f, err := os.OpenFile(b.segPath(b.wStart), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(torn); err != nil {
				t.Fatal(err)
			}
			f.Close()

			b2, err := openBuffer(dir, 1<<20, log)
			if err != nil {
				t.Fatal(err)
			}
			defer b2.Close()
			if err := b2.Append(context.Background(), sinktest.Numbered(6, 8), time.Now()); err != nil {
				t.Fatal(err)
			}
			got := drain(t, b2, 100)
			want := []string{"line 000002", "line 000003", "line 000004", "line 000006", "line 000007"}
			if !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q: the torn record must be dropped, nothing delivered twice", got, want)
			}
		})
	}
}

func TestBufferAppendWaitsWhenFull(t *testing.T) {
	b, err := openBuffer(t.TempDir(), 1024, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	blocked := make(chan struct{}, 1)
	b.blocked = func() { blocked <- struct{}{} }
	ctx := context.Background()
	for b.wOff-b.rOff < 900 {
		if err := b.Append(ctx, sinktest.Numbered(0, 1), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.Append(ctx, sinktest.Numbered(1, 3), time.Now()) }()
	select {
	case <-blocked:
	case err := <-done:
		t.Fatalf("Append into a full buffer returned (%v) instead of waiting", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Append neither waited nor returned")
	}
	drain(t, b, 4)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Append still waits after the buffer drained")
	}

	cctx, cancel := context.WithCancel(ctx)
	for b.wOff-b.rOff < 900 {
		if err := b.Append(ctx, sinktest.Numbered(0, 1), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	go func() { done <- b.Append(cctx, sinktest.Numbered(1, 3), time.Now()) }()
	<-blocked
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("a waiting Append whose context ended returned %v, want context.Canceled", err)
	}
}

func TestBufferReadsRecordLargerThanChunk(t *testing.T) {
	b, err := openBuffer(t.TempDir(), 1<<30, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	big := sinktest.Numbered(0, 3)
	big[1].Log = string(make([]byte, 300<<10))
	if err := b.Append(context.Background(), big, time.Now()); err != nil {
		t.Fatal(err)
	}
	recs, _, err := b.Peek(10, 1024)
	if err != nil || len(recs) != 1 || recs[0].rec.Log != "line 000000" {
		t.Fatalf("first peek: %d records, %v", len(recs), err)
	}
	got := drain(t, b, 1)
	if len(got) != 3 || len(got[1]) != 300<<10 {
		t.Fatalf("got %d records; the big one has %d bytes", len(got), len(got[1]))
	}
}

// onDisk is what the buffer's segment files hold.
func onDisk(t *testing.T, dir string) []byte {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	var all []byte
	for _, s := range segs {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}

func isDone(sh *memShare) bool {
	select {
	case <-sh.done:
		return true
	default:
		return false
	}
}

// TestBufferMemoryLane: offered records are delivered from memory without a
// disk write, and a share is done only once all of it was delivered.
func TestBufferMemoryLane(t *testing.T) {
	dir := t.TempDir()
	b, err := openBuffer(dir, 1<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	a, err := b.Offer(ctx, sinktest.Numbered(0, 3), time.Now())
	if err != nil || a == nil {
		t.Fatalf("Offer into an empty buffer: %v, %v", a, err)
	}
	c, _ := b.Offer(ctx, sinktest.Numbered(3, 5), time.Now())
	if _, events, _ := b.Stats(); events != 5 {
		t.Fatalf("Stats counts %d records waiting, want 5", events)
	}
	recs, next, _ := b.Peek(2, 1<<20)
	if err := b.Commit(next, len(recs)); err != nil {
		t.Fatal(err)
	}
	if isDone(a) {
		t.Fatal("a share is done with one of its records not delivered")
	}
	if got := drain(t, b, 100); !slices.Equal(got, []string{"line 000002", "line 000003", "line 000004"}) {
		t.Fatalf("delivered %q", got)
	}
	if !isDone(a) || !isDone(c) {
		t.Fatal("delivered shares are not done")
	}
	if data := onDisk(t, dir); len(data) != 0 {
		t.Fatalf("the memory lane wrote %d bytes to disk", len(data))
	}
}

// TestBufferSpillKeepsOrderOnce: a spill while records peeked from memory
// are being delivered puts them and the rest on disk and makes every share
// done; records offered afterwards go to disk behind them; once the peeked
// ones are delivered each record is delivered once, in order, also after a
// restart.
func TestBufferSpillKeepsOrderOnce(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	b, err := openBuffer(dir, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _ := b.Offer(ctx, sinktest.Numbered(0, 3), time.Now())
	c, _ := b.Offer(ctx, sinktest.Numbered(3, 5), time.Now())
	recs, next, _ := b.Peek(2, 1<<20) // being delivered
	if err := b.Spill(); err != nil {
		t.Fatal(err)
	}
	if !isDone(a) || !isDone(c) {
		t.Fatal("spilled shares are not done")
	}
	if data := onDisk(t, dir); !bytes.Contains(data, []byte("line 000000")) || !bytes.Contains(data, []byte("line 000004")) {
		t.Fatal("spilled records are not on disk")
	}
	d, err := b.Offer(ctx, sinktest.Numbered(5, 6), time.Now())
	if err != nil || d != nil {
		t.Fatalf("an Offer while records wait on disk must append to disk: %v, %v", d, err)
	}
	if err := b.Commit(next, len(recs)); err != nil { // the delivery of the peeked records succeeded
		t.Fatal(err)
	}
	if _, events, _ := b.Stats(); events != 4 {
		t.Fatalf("%d records waiting, want 4", events)
	}
	b.Close()
	b2, err := openBuffer(dir, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	want := []string{"line 000002", "line 000003", "line 000004", "line 000005"}
	if got := drain(t, b2, 100); !slices.Equal(got, want) {
		t.Fatalf("after the spill and a restart: %q, want %q", got, want)
	}
	// Empty on disk again: the next share waits in memory.
	if e, _ := b2.Offer(ctx, sinktest.Numbered(6, 7), time.Now()); e == nil {
		t.Fatal("an Offer into a drained buffer did not use the memory lane")
	}
}

// TestBufferWritesAgainAfterASegmentCouldNotBeCreated: when the next
// segment cannot be created (a full filesystem, no inodes; here a directory
// in its place), the Append waits instead of failing, and once the segment
// can be created it goes through: the buffer keeps its last segment open
// until the next one exists. Before, it closed the last segment first, and
// every later write failed for good.
func TestBufferWritesAgainAfterASegmentCouldNotBeCreated(t *testing.T) {
	dir := t.TempDir()
	b, err := openBuffer(dir, 8<<10, slog.New(slog.DiscardHandler)) // segments of 1 KiB
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := b.Append(ctx, sinktest.Numbered(0, 20), time.Now()); err != nil {
		t.Fatal(err)
	}
	blocker := b.segPath(b.wOff)
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.Append(short, sinktest.Numbered(20, 30), time.Now()); err != context.DeadlineExceeded {
		t.Fatalf("an Append whose segment cannot be created: %v, want it to wait until its context ends", err)
	}
	if _, err := b.held(); err != nil {
		t.Fatalf("held after the Append gave up (nothing waits): %v", err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	again, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Append(again, sinktest.Numbered(20, 30), time.Now()); err != nil {
		t.Fatalf("an Append once the segment can be created: %v", err)
	}
	if got, want := drain(t, b, 7), logs(sinktest.Numbered(0, 30)); !slices.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
}
