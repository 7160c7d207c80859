package config

import "strings"

func (v *validator) release(r Release) {
	if r.ProgressDeadline <= 0 {
		v.errorf("release.progressDeadline", "must be more than 0s")
	}
	if r.HistoryLimit < 1 {
		v.errorf("release.historyLimit", "must be 1 or more")
	}
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
	}
}

func (v *validator) trigger(path string, t Trigger) {
	switch {
	case t.Webhook == nil && t.Git == nil:
		v.errorf(path, "needs one of webhook or git")
		return
	case t.Webhook != nil && t.Git != nil:
		v.errorf(path, "has webhook and git; give one per trigger")
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
	if g := t.Git; g != nil && g.Branch == "" {
		v.errorf(child(child(path, "git"), "branch"), "is required")
	}
}

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
		switch {
		case s.Run == nil && s.Deploy == nil:
			v.errorf(p, "needs one of run or deploy")
		case s.Run != nil && s.Deploy != nil:
			v.errorf(p, "has run and deploy; give one per step")
		}
		if r := s.Run; r != nil {
			rp := child(p, "run")
			if len(r.Command) == 0 || r.Command[0] == "" {
				v.errorf(child(rp, "command"), "is required: the program and its arguments")
			}
			v.env(child(rp, "env"), r.Env, false)
		}
		if d := s.Deploy; d != nil {
			dp := child(p, "deploy")
			serviceOK := v.name(child(dp, "service"), d.Service)
			if v.name(child(dp, "project"), d.Project) && serviceOK {
				v.reference(child(dp, "service"), d.Project, d.Service)
			}
			v.env(child(dp, "env"), d.Env, true)
		}
		v.between(child(p, "retries"), s.Retries, 0, 10)
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
