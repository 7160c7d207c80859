package local

import (
	"reflect"
	"testing"
)

func TestFindOrphans(t *testing.T) {
	rec := groupRecord{Instance: "web-abcd-0", PID: 100, PGID: 100, StartTime: 5000}
	tests := []struct {
		name  string
		procs []procStat
		want  []int // pids found; nil: the group is gone
		out   bool  // leader outside its group
	}{
		{"nothing runs", nil, nil, false},
		{
			"leader and child run",
			[]procStat{{PID: 100, State: 'S', PGRP: 100, StartTime: 5000}, {PID: 101, State: 'S', PGRP: 100, StartTime: 5001}},
			[]int{100, 101}, false,
		},
		{
			"leader gone, child remains",
			[]procStat{{PID: 101, State: 'S', PGRP: 100, StartTime: 5003}},
			[]int{101}, false,
		},
		{
			"pid reused by a stranger with a later start",
			[]procStat{{PID: 100, State: 'S', PGRP: 100, StartTime: 9000}, {PID: 120, State: 'S', PGRP: 100, StartTime: 9001}},
			nil, false,
		},
		{
			"group member older than the leader is not ours",
			[]procStat{{PID: 90, State: 'S', PGRP: 100, StartTime: 4000}},
			nil, false,
		},
		{
			"zombies are finished",
			[]procStat{{PID: 100, State: 'Z', PGRP: 100, StartTime: 5000}, {PID: 101, State: 'Z', PGRP: 100, StartTime: 5001}},
			nil, false,
		},
		{
			"leader that left its group is found too",
			[]procStat{{PID: 100, State: 'S', PGRP: 300, StartTime: 5000}, {PID: 101, State: 'S', PGRP: 100, StartTime: 5001}},
			[]int{100, 101}, true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findOrphans([]groupRecord{rec}, tc.procs)
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("found %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0].pids, tc.want) || got[0].leaderOutside != tc.out {
				t.Fatalf("found %+v, want pids %v leaderOutside %v", got, tc.want, tc.out)
			}
		})
	}
}

func TestFindOrphansNeverTargetsInit(t *testing.T) {
	recs := []groupRecord{{PID: 1, PGID: 1}, {PID: 0, PGID: 0}}
	procs := []procStat{{PID: 1, State: 'S', PGRP: 1}, {PID: 5, State: 'S', PGRP: 0}}
	if got := findOrphans(recs, procs); len(got) != 0 {
		t.Fatalf("found %+v", got)
	}
}
