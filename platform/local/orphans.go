package local

import (
	"context"
	"slices"
	"syscall"
	"time"
)

const (
	// orphanGrace is how long processes left by a previous opshub get to
	// exit after SIGTERM before they are killed.
	orphanGrace = 10 * time.Second
	// orphanPoll is how often the runtime looks whether they are gone.
	orphanPoll = 100 * time.Millisecond
)

// orphanGroup is a recorded process group that still has live processes.
type orphanGroup struct {
	rec  groupRecord
	pids []int
	// leaderOutside is set when the leader lives but has left its group, so
	// that signalling the group would miss it.
	leaderOutside bool
}

// findOrphans matches recorded process groups against the running processes.
// A group is still there when its leader runs with the recorded start time,
// or when live processes are in its process group and started no earlier
// than the leader did. A pid is never reused while a process group of that
// id exists, so a process that now holds the leader's pid with another start
// time proves that the recorded group has gone and the id belongs to
// someone else.
func findOrphans(recs []groupRecord, procs []procStat) []orphanGroup {
	byPID := make(map[int]procStat, len(procs))
	for _, p := range procs {
		byPID[p.PID] = p
	}
	var out []orphanGroup
	for _, rec := range recs {
		if rec.PGID <= 1 || rec.PID <= 1 {
			continue // never signal init or "every process"
		}
		if holder, ok := byPID[rec.PGID]; ok && holder.StartTime != rec.StartTime {
			continue
		}
		g := orphanGroup{rec: rec}
		for _, p := range procs {
			if p.PGRP == rec.PGID && p.StartTime >= rec.StartTime && p.alive() {
				g.pids = append(g.pids, p.PID)
			}
		}
		if leader, ok := byPID[rec.PID]; ok && leader.StartTime == rec.StartTime && leader.alive() && leader.PGRP != rec.PGID {
			g.pids = append(g.pids, rec.PID)
			g.leaderOutside = true
		}
		if len(g.pids) > 0 {
			slices.Sort(g.pids)
			out = append(out, g)
		}
	}
	return out
}

// signalOrphans sends sig to each group (and to a leader that left it).
func signalOrphans(groups []orphanGroup, sig syscall.Signal) {
	for _, g := range groups {
		_ = syscall.Kill(-g.rec.PGID, sig)
		if g.leaderOutside {
			_ = syscall.Kill(g.rec.PID, sig)
		}
	}
}

// cleanOrphans stops the process groups a previous opshub on this data
// directory recorded and left running when it was killed or crashed.
//
// Children are deliberately not tied to opshub's life with
// PR_SET_PDEATHSIG: the kernel sends it when the forking thread exits, and Go
// retires threads on its own, which would kill healthy instances. Cleaning up
// at the next start works however opshub died.
//
// The groups get SIGTERM, up to orphanGrace to exit, then SIGKILL. It
// returns when they are gone or, after SIGKILL, once a short wait is over; it
// never fails start-up.
func (r *Runtime) cleanOrphans(ctx context.Context, recs []groupRecord) {
	if len(recs) == 0 {
		return
	}
	scan := func() []orphanGroup {
		procs, err := listProcs(r.procRoot)
		if err != nil {
			r.log.Warn("cannot look for processes left by a previous opshub", "error", err)
			return nil
		}
		return findOrphans(recs, procs)
	}
	groups := scan()
	if len(groups) == 0 {
		r.log.Info("no processes left by a previous opshub", "recorded_groups", len(recs))
		return
	}
	for _, g := range groups {
		r.log.Warn("stopping processes left by a previous opshub",
			"project", g.rec.Project, "service", g.rec.Service, "instance", g.rec.Instance,
			"pgid", g.rec.PGID, "pids", g.pids)
	}
	signalOrphans(groups, syscall.SIGTERM)
	if r.waitOrphansGone(ctx, scan, orphanGrace) {
		r.log.Info("processes left by a previous opshub stopped", "groups", len(groups))
		return
	}
	left := scan()
	for _, g := range left {
		r.log.Warn("killing processes left by a previous opshub that ignored SIGTERM",
			"instance", g.rec.Instance, "pgid", g.rec.PGID, "pids", g.pids, "grace", orphanGrace.String())
	}
	signalOrphans(left, syscall.SIGKILL)
	if !r.waitOrphansGone(context.WithoutCancel(ctx), scan, 2*time.Second) {
		r.log.Error("processes left by a previous opshub survived SIGKILL", "groups", len(scan()))
	}
}

// waitOrphansGone polls until scan finds nothing, ctx ends or limit passes.
func (r *Runtime) waitOrphansGone(ctx context.Context, scan func() []orphanGroup, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(orphanPoll)
	defer tick.Stop()
	for {
		if len(scan()) == 0 {
			return true
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return len(scan()) == 0
		case <-ctx.Done():
			return false
		}
	}
}
