package spend

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

var crashStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// oneCore is a container whose minute costs exactly 0.031611/60.
var oneCore = []Container{{Ref: model.Ref{Project: "p", Service: "s", Instance: "i"}, Running: true, CPURequest: 1}}

// TestLedgerChildProcess is not a test of its own: it is the process the
// crash test runs and kills. It ticks simulated minutes into the state file
// as fast as it can and prints each committed minute.
func TestLedgerChildProcess(t *testing.T) {
	path := os.Getenv("OPSHUB_SPEND_CRASH_DB")
	if path == "" {
		return
	}
	db, err := store.Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisRequests}, time.UTC, NewDBStore(db))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	now := l.Cursor()
	if now.IsZero() {
		now = crashStart
	}
	for {
		if err := l.Tick(now, oneCore, nil); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("committed", now.Unix())
		now = now.Add(time.Minute)
	}
}

func TestKillBetweenTicksNeitherLosesNorDoubles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var lastSeen time.Time
	for round, kill := range []int{40, 75, 120} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerChildProcess$")
		cmd.Env = append(os.Environ(), "OPSHUB_SPEND_CRASH_DB="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		seen := 0
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 2 && fields[0] == "committed" {
				sec, _ := strconv.ParseInt(fields[1], 10, 64)
				lastSeen = time.Unix(sec, 0).UTC()
				seen++
				if seen == kill {
					break
				}
				continue
			}
			t.Fatalf("child: %s", sc.Text())
		}
		if seen != kill {
			t.Fatalf("round %d: child stopped after %d ticks", round, seen)
		}
		// Killed between two ticks, or in the middle of one: either way
		// the commit that was running is all or nothing.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}

	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisRequests}, time.UTC, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	if l.Cursor().Before(lastSeen) {
		t.Fatalf("cursor %v is behind the last committed minute %v: minutes were lost", l.Cursor(), lastSeen)
	}
	minutes := l.Cursor().Sub(crashStart).Minutes()
	want := minutes * 0.031611 / 60
	got := l.MonthToDate(l.Cursor(), "")
	if math.Abs(got-want) > 1e-9 {
		t.Fatalf("ledger holds %.10f for %v minutes, want %.10f: a minute was lost or doubled", got, minutes, want)
	}
}
