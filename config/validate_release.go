package config

import (
	"slices"
	"strings"
	"time"
)

func (v *validator) release(r Release) {
	if r.ProgressDeadline <= 0 {
		v.errorf("release.progressDeadline", "must be more than 0s")
	}
	if r.HistoryLimit < 1 {
		v.errorf("release.historyLimit", "must be 1 or more")
	}
	v.continuous(r.Continuous)
	names := map[string]string{}
	for i, f := range r.Flows {
		p := elem("release.flows", i)
		if v.name(child(p, "name"), f.Name) {
			v.unique(names, f.Name, child(p, "name"), "flow name")
		}
		v.oneOf(child(p, "concurrency"), f.Concurrency, ConcurrencyAllow, ConcurrencyQueue, ConcurrencyForbid)
		for j, t := range f.Triggers {
			v.trigger(elem(child(p, "triggers"), j), t)
		}
		v.steps(child(p, "steps"), f.Steps)
		if jt := f.JobTemplate; jt != nil {
			jp := child(p, "jobTemplate")
			v.name(child(jp, "name"), jt.Name)
			v.name(child(jp, "project"), jt.Project)
			if v.cfg.Platform.Kind == PlatformLocal {
				v.errorf(jp, "is for platform kind kubernetes: on one machine run steps are processes")
			}
		} else if v.cfg.Platform.Kind != PlatformLocal {
			for i, s := range f.Steps {
				if s.Run != nil {
					v.errorf(child(elem(child(p, "steps"), i), "run"), "needs the flow's jobTemplate on Kubernetes: run steps are Jobs created from it")
				}
			}
		}
	}
}

func (v *validator) trigger(path string, t Trigger) {
	switch {
	case t.Webhook == nil && t.Git == nil && t.Image == nil:
		v.errorf(path, "needs one of webhook, git or image")
		return
	case (t.Webhook != nil && t.Git != nil) || (t.Webhook != nil && t.Image != nil) || (t.Git != nil && t.Image != nil):
		v.errorf(path, "has %s; give one per trigger", strings.Join(t.kinds(), " and "))
	}
	if im := t.Image; im != nil {
		ip := child(path, "image")
		v.imageWatch(ip, im.ImageWatch)
		if im.Auth.PullSecret != "" {
			v.errorf(child(child(ip, "auth"), "pullSecret"), "is read from a service's namespace, and an image trigger has no service: give dockerConfigFile (the Secret's .dockerconfigjson) instead")
		}
	}
	if wh := t.Webhook; wh != nil {
		wp := child(path, "webhook")
		switch {
		case wh.Secret == "" && v.given(child(wp, "secret")):
			v.errorf(child(wp, "secret"), "is empty")
		case wh.Secret == "" && wh.SecretFile == "":
			v.errorf(wp, "needs secret or secretFile: inbound triggers must be signed")
		}
	}
	if g := t.Git; g != nil {
		gp := child(path, "git")
		if g.Repo == "" {
			v.errorf(child(gp, "repo"), "is required: a URL or path that `git ls-remote` reads")
		}
		if g.Branch == "" {
			v.errorf(child(gp, "branch"), "is required")
		}
		if g.PollInterval < Duration(time.Second) {
			v.errorf(child(gp, "pollInterval"), "must be 1s or more")
		}
	}
}

// hasArgs tells whether a value is given by a run's arguments, so that it
// can only be checked when the run starts.
func hasArgs(s string) bool { return strings.Contains(s, "${") }

func (v *validator) steps(path string, steps []Step) {
	if len(steps) == 0 {
		v.errorf(path, "needs at least one step")
		return
	}
	names := map[string]string{}
	for i, s := range steps {
		p := elem(path, i)
		if v.name(child(p, "name"), s.Name) {
			v.unique(names, s.Name, child(p, "name"), "step name")
		}
		var set []string
		for k, on := range s.kinds() {
			if on {
				set = append(set, StepKinds[k])
			}
		}
		switch {
		case len(set) == 0:
			v.errorf(p, "needs one of %s: the step's kind", strings.Join(StepKinds, ", "))
		case len(set) > 1:
			v.errorf(p, "has %s; give one kind per step", strings.Join(set, " and "))
		}
		v.stepKind(p, s)
		v.env(child(p, "env"), s.Env, s.Deploy != nil)
		v.between(child(p, "retries"), s.Retries, 0, 10)
		if s.Timeout < 0 {
			v.errorf(child(p, "timeout"), "must not be negative")
		}
		seen := map[string]string{}
		for j, n := range s.Needs {
			np := elem(child(p, "needs"), j)
			switch {
			case n == s.Name:
				v.errorf(np, "a step cannot need itself")
			case !hasStep(steps, n):
				v.errorf(np, "no step named %q in this flow%s", truncate(n, 40), suggest(n, stepNames(steps), ""))
			default:
				v.unique(seen, n, np, "need")
			}
		}
	}
	v.cycles(path, steps)
}

// stepKind checks the fields of the step's kind.
func (v *validator) stepKind(p string, s Step) {
	if r := s.Run; r != nil {
		rp := child(p, "run")
		if len(r.Command) == 0 || r.Command[0] == "" {
			v.errorf(child(rp, "command"), "is required: the program and its arguments")
		}
		v.env(child(rp, "env"), r.Env, false)
	}
	if j := s.Job; j != nil {
		jp := child(p, "job")
		if v.name(child(jp, "name"), j.Name) && !hasArgs(j.Project) {
			v.jobReference(child(jp, "name"), j.Project, j.Name)
		}
		v.env(child(jp, "env"), j.Env, false)
	}
	if d := s.Deploy; d != nil {
		dp := child(p, "deploy")
		v.service(dp, d.Project, d.Service)
		v.env(child(dp, "env"), d.Env, true)
	}
	if pr := s.Promote; pr != nil {
		pp := child(p, "promote")
		v.service(child(pp, "from"), pr.From.Project, pr.From.Service)
		v.service(child(pp, "to"), pr.To.Project, pr.To.Service)
		if pr.From == pr.To && pr.From.Service != "" {
			v.errorf(child(pp, "to"), "is the service promoted from")
		}
	}
	if b := s.Backup; b != nil {
		bp := child(p, "backup")
		if c := b.VolumeSnapshotClass; c != "" && !hasArgs(c) {
			if v.cfg.Platform.Kind == PlatformLocal {
				v.errorf(child(bp, "volumeSnapshotClass"), "is for platform kind kubernetes: on one machine a backup is an archive")
			} else {
				v.subdomain(child(bp, "volumeSnapshotClass"), c)
			}
		}
		if v.service(bp, b.Project, b.Service) && v.name(child(bp, "volume"), b.Volume) && !hasArgs(b.Project) && !hasArgs(b.Service) && v.cfg.Platform.Kind == PlatformLocal {
			if w, ok := v.workload(b.Project, b.Service); ok {
				var vols []string
				for _, vol := range w.Volumes {
					vols = append(vols, vol.Name)
				}
				if !slices.Contains(vols, b.Volume) {
					v.errorf(child(bp, "volume"), "workload %s/%s has no volume %q%s", b.Project, b.Service, truncate(b.Volume, 40), suggest(b.Volume, vols, ""))
				}
			}
		}
	}
	if h := s.HTTP; h != nil {
		hp := child(p, "http")
		if !hasArgs(h.URL) {
			v.httpURL(child(hp, "url"), h.URL)
		} else if h.URL == "" {
			v.errorf(child(hp, "url"), "is required")
		}
		if h.Method != "" {
			v.oneOf(child(hp, "method"), h.Method, "GET", "POST", "PUT", "PATCH", "DELETE")
		}
	}
}

// service checks a step's project and service, and on platform kind local
// that the service is a workload. It returns whether the service is known
// (or given by arguments).
func (v *validator) service(path, project, service string) bool {
	if service == "" {
		v.errorf(child(path, "service"), "is required")
		return false
	}
	if hasArgs(project) || hasArgs(service) {
		return true
	}
	if !v.name(child(path, "service"), service) || !v.name(child(path, "project"), project) {
		return false
	}
	before := len(v.rep.errs)
	v.reference(child(path, "service"), project, service)
	return len(v.rep.errs) == before
}

// jobReference checks, on platform kind local, that a job step names a job.
func (v *validator) jobReference(path, project, name string) {
	if v.cfg.Platform.Kind != PlatformLocal {
		return
	}
	w, ok := v.workload(project, name)
	switch {
	case !ok:
		v.errorf(path, "no job %q in project %q", name, project)
	case !w.IsJob():
		v.errorf(path, "workload %s/%s is a service, not a job (restartPolicy Never or OnFailure)", project, name)
	}
}

func hasStep(steps []Step, name string) bool {
	for _, s := range steps {
		if s.Name == name {
			return true
		}
	}
	return false
}

func stepNames(steps []Step) []string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return names
}

// cycles reports each cycle among needs once, at the step where the walk
// closed it, as "a → b → a".
func (v *validator) cycles(path string, steps []Step) {
	index := map[string]int{}
	for i, s := range steps {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(steps))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = visiting
		stack = append(stack, i)
		for _, n := range steps[i].Needs {
			j, ok := index[n]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case unvisited:
				visit(j)
			case visiting:
				var names []string
				for k := len(stack) - 1; k >= 0; k-- {
					names = append(names, steps[stack[k]].Name)
					if stack[k] == j {
						break
					}
				}
				// The stack runs from the needing step to the needed one;
				// show it in the direction of "needs".
				for a, b := 0, len(names)-1; a < b; a, b = a+1, b-1 {
					names[a], names[b] = names[b], names[a]
				}
				names = append(names, steps[j].Name)
				v.errorf(child(elem(path, i), "needs"), "needs form a cycle: %s", strings.Join(names, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range steps {
		if state[i] == unvisited {
			visit(i)
		}
	}
}
