package collector

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// TestClockSteppingBackAndForward runs the collector on a wall clock that
// steps back an hour while lines are written in small pieces and the file
// rotates, then, after a restart, forward again. The times it keeps (the
// last batch of a file, its last growth, the checkpoints' times) lie in
// the future after the step back; no file may wait for the clock to catch
// up, and after the restart on the checkpoints nothing is read twice.
func TestClockSteppingBackAndForward(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	dir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clock := &sinktest.WallClock{}
	out := &memOutput{}
	run := func() func() {
		_, stop := runWith(t, Options{Roots: []string{root}, StateDir: state, Output: out, Now: clock.Now,
			RescanInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond})
		return stop
	}
	next := 1
	write := func(file string, n int) {
		appendFile(t, filepath.Join(dir, file), numbered(next, next+n-1))
		next += n
	}
	arrive := func(what string) {
		t.Helper()
		sinktest.WaitFor(t, 20*time.Second, what, func() bool {
			got := lineNumbers(t, out)
			return len(got) > 0 && slices.Max(got) == next-1
		})
	}
	stop := run()
	write("0.log", 10)
	arrive("the first lines")

	clock.Step(-time.Hour)
	for range 5 {
		write("0.log", 2) // small pieces: each waits for the last batch's interval
		arrive("lines written in small pieces after the step back")
	}
	if err := os.Rename(filepath.Join(dir, "0.log"), filepath.Join(dir, "0.log.20261124-100000")); err != nil {
		t.Fatal(err)
	}
	write("0.log", 5) // the new file waits until the rotated one is done
	arrive("the new file's lines after a rotation")
	stop()

	clock.Step(time.Hour)
	stop = run()
	write("0.log", 5)
	arrive("lines after the step forward and a restart")
	stop()

	want := make([]int, next-1)
	for i := range want {
		want[i] = i + 1
	}
	if got := lineNumbers(t, out); !slices.Equal(got, want) {
		t.Errorf("got lines %v, want 1-%d once each, in order", got, next-1)
	}
}
