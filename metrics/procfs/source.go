package procfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

// Lister lists services with their instances; platform/local's Runtime
// satisfies it. Instances with a PID are running process groups.
type Lister interface {
	Services(ctx context.Context) ([]model.Service, error)
}

// Spec is what a service's readings are measured against.
type Spec struct {
	// CPU is the request and limit in cores; 0 when none is set. On one
	// machine a workload's resources are both.
	CPU float64
	// Memory is the request and limit in bytes; 0 when none is set.
	Memory  int64
	Volumes []Volume
}

// Volume is a directory a service's instances share.
type Volume struct {
	Name     string
	Path     string
	Capacity int64
}

// DefaultWalkLimit bounds the entries one volume walk visits per scrape.
const DefaultWalkLimit = 100_000

// Options configure a Source.
type Options struct {
	// ProcRoot is where procfs is mounted; default /proc.
	ProcRoot string
	// Specs are keyed by service ref (project and service only).
	Specs map[model.Ref]Spec
	// WalkLimit bounds a volume walk; default DefaultWalkLimit.
	WalkLimit int
	Logger    *slog.Logger
}

// Source reads the local runtime's instances from /proc and cgroup v2.
type Source struct {
	lister Lister
	opts   Options
	log    *slog.Logger
	warned map[string]bool // volumes whose walk was cut short, warned once
}

var _ metrics.Source = (*Source)(nil)

// New returns a Source; it reads nothing until Read.
func New(lister Lister, opts Options) *Source {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.WalkLimit <= 0 {
		opts.WalkLimit = DefaultWalkLimit
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Source{lister: lister, opts: opts, log: opts.Logger.With("component", "metrics"), warned: map[string]bool{}}
}

// Read measures every running instance and every service's volumes.
func (s *Source) Read(ctx context.Context, now time.Time) ([]metrics.Reading, error) {
	svcs, err := s.lister.Services(ctx)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	groups, err := s.processGroups()
	if err != nil {
		return nil, err
	}
	host := s.hostView()
	var out []metrics.Reading
	var errs []error
	for _, svc := range svcs {
		spec := s.opts.Specs[svc.Ref()]
		for _, in := range svc.Instances {
			if in.PID <= 0 {
				continue
			}
			pids := groups[in.PID]
			if len(pids) == 0 {
				continue // exited between the listing and the scan
			}
			rd := metrics.Reading{
				Ref:       model.Ref{Project: svc.Project, Service: svc.Name, Instance: in.Name, Container: in.Container},
				Time:      now,
				StartedAt: in.StartedAt,
				Restarts:  metrics.Known(float64(in.Restarts)),
			}
			if spec.CPU > 0 {
				rd.CPURequest, rd.CPULimit = metrics.Known(spec.CPU), metrics.Known(spec.CPU)
			}
			if spec.Memory > 0 {
				rd.MemoryRequest, rd.MemoryLimit = metrics.Known(float64(spec.Memory)), metrics.Known(float64(spec.Memory))
			}
			if err := s.measure(&rd, in.PID, pids, host); err != nil {
				errs = append(errs, fmt.Errorf("instance %s: %w", rd.Ref, err))
				continue
			}
			out = append(out, rd)
		}
		if vols := s.volumes(svc.Ref(), spec.Volumes); len(vols) > 0 {
			out = append(out, metrics.Reading{Ref: svc.Ref(), Time: now, Volumes: vols})
		}
	}
	return out, errors.Join(errs...)
}

// hostView is what opshub itself sees, to tell whether an instance has a
// cgroup or network namespace of its own.
type hostView struct {
	cgroup     string // opshub's cgroup v2 path
	cgroupRoot string // cgroup2 mount point; "" without cgroup v2
	netns      string
}

func (s *Source) hostView() hostView {
	var h hostView
	if b, err := os.ReadFile(filepath.Join(s.opts.ProcRoot, "self", "cgroup")); err == nil {
		h.cgroup = unifiedCgroup(b)
	}
	if b, err := os.ReadFile(filepath.Join(s.opts.ProcRoot, "self", "mountinfo")); err == nil {
		h.cgroupRoot = cgroup2Mount(b)
	}
	h.netns, _ = os.Readlink(filepath.Join(s.opts.ProcRoot, "self", "ns", "net"))
	return h
}

// processGroups maps each process group id to its processes' pids.
func (s *Source) processGroups() (map[int][]procStat, error) {
	ents, err := os.ReadDir(s.opts.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.opts.ProcRoot, err)
	}
	groups := map[int][]procStat{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.opts.ProcRoot, e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		st, err := parseStat(b)
		if err != nil {
			continue
		}
		st.pid = pid
		groups[st.pgrp] = append(groups[st.pgrp], st)
	}
	return groups, nil
}

// measure fills rd from the instance's cgroup when it has its own, else
// from its group's processes.
func (s *Source) measure(rd *metrics.Reading, leader int, procs []procStat, host hostView) error {
	proc := func(pid int, name string) string {
		return filepath.Join(s.opts.ProcRoot, strconv.Itoa(pid), name)
	}
	usedCgroup := false
	if host.cgroupRoot != "" {
		if b, err := os.ReadFile(proc(leader, "cgroup")); err == nil {
			if cg := unifiedCgroup(b); cg != "" && cg != host.cgroup {
				st, err := readCgroup(filepath.Join(host.cgroupRoot, filepath.FromSlash(cg)))
				if err != nil {
					return err
				}
				rd.CPUSeconds = metrics.Known(st.cpuSeconds)
				rd.MemoryWorkingSet = metrics.Known(float64(st.workingSet))
				rd.MemoryRSS = metrics.Known(float64(st.anon))
				if st.hasIO {
					rd.DiskReadBytes = metrics.Known(float64(st.readBytes))
					rd.DiskWriteBytes = metrics.Known(float64(st.writeBytes))
				}
				usedCgroup = true
			}
		}
	}
	if !usedCgroup {
		var ticks, resident, rss, rbytes, wbytes uint64
		ioOK := true
		for _, p := range procs {
			ticks += p.cpuTicks
			if b, err := os.ReadFile(proc(p.pid, "statm")); err == nil {
				if pages, ok := parseStatmResident(b); ok {
					resident += pages
				}
			}
			if b, err := os.ReadFile(proc(p.pid, "status")); err == nil {
				if v, ok := parseStatusRSS(b); ok {
					rss += v
				}
			}
			if b, err := os.ReadFile(proc(p.pid, "io")); err == nil {
				if r, w, ok := parseIO(b); ok {
					rbytes += r
					wbytes += w
				}
			} else {
				ioOK = false // another user's process: io needs ptrace rights
			}
		}
		rd.CPUSeconds = metrics.Known(float64(ticks) / userHZ)
		// Resident pages include mapped files (the binary, shared
		// libraries): the kernel's equivalent of a working set for a group
		// without a cgroup. Pages shared between the group's processes are
		// counted once per process.
		rd.MemoryWorkingSet = metrics.Known(float64(resident * uint64(os.Getpagesize())))
		rd.MemoryRSS = metrics.Known(float64(rss))
		if ioOK {
			rd.DiskReadBytes = metrics.Known(float64(rbytes))
			rd.DiskWriteBytes = metrics.Known(float64(wbytes))
		}
	}
	// Network counters only from a namespace of the instance's own.
	if ns, err := os.Readlink(proc(leader, "ns/net")); err == nil && host.netns != "" && ns != host.netns {
		if b, err := os.ReadFile(proc(leader, "net/dev")); err == nil {
			if rx, tx, ok := parseNetDev(b); ok {
				rd.NetworkRxBytes = metrics.Known(float64(rx))
				rd.NetworkTxBytes = metrics.Known(float64(tx))
			}
		}
	}
	return nil
}

// volumes measures a service's volumes.
func (s *Source) volumes(svc model.Ref, vols []Volume) []metrics.VolumeReading {
	var out []metrics.VolumeReading
	for _, v := range vols {
		vr := metrics.VolumeReading{Name: v.Name}
		if v.Capacity > 0 {
			vr.Capacity = metrics.Known(float64(v.Capacity))
		}
		used, inodes, complete, err := volumeUsage(v.Path, s.opts.WalkLimit)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Not created yet: nothing used.
			vr.Used, vr.Inodes = metrics.Known(0), metrics.Known(0)
		case err != nil:
			s.log.Warn("measuring volume", "service", svc.String(), "volume", v.Name, "err", err)
		default:
			vr.Used, vr.Inodes = metrics.Known(float64(used)), metrics.Known(float64(inodes))
			if !complete && !s.warned[v.Path] {
				s.warned[v.Path] = true
				s.log.Warn("volume has more entries than one walk visits; usage is a lower bound (mount it as its own filesystem to measure it with statfs)",
					"service", svc.String(), "volume", v.Name, "walk_limit", s.opts.WalkLimit)
			}
		}
		out = append(out, vr)
	}
	return out
}
