package flow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/release"
)

// Rollback starts a run (trigger rollback) that puts every service run id
// deployed or promoted back to the revision it ran before that run. It
// never undoes jobs, commands or backups; the new run's message says so.
// The run starts at once, whatever the flow's concurrency.
func (e *Engine) Rollback(id, by string) (Run, error) {
	rec, err := e.record(id)
	if err != nil {
		return Run{}, err
	}
	old := rec.Run
	if !old.Done() {
		return Run{}, fmt.Errorf("flow run %s is %s; cancel it or wait for it to end before rolling it back: %w", id, old.State, ErrConflict)
	}
	var undone []string
	for _, s := range rec.Plan {
		switch s.Kind() {
		case "job", "run", "backup", "http":
			if st := old.Step(s.Name); st != nil && st.State != StepSkipped && st.State != StepPending {
				undone = append(undone, s.Kind()+" step "+s.Name)
			}
		}
	}
	if len(old.Releases) == 0 {
		return Run{}, fmt.Errorf("flow run %s released no service, so there is nothing to roll back (jobs, commands and backups are never undone): %w", id, ErrConflict)
	}
	var steps []Step
	for _, c := range old.Releases {
		steps = append(steps, Step{
			Name:     "rollback-" + c.Project + "-" + c.Service,
			Rollback: &RollbackStep{Project: c.Project, Service: c.Service, Revision: c.Previous},
		})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return Run{}, errors.New("opshub is not running flows now")
	}
	nrec := e.newRecordLocked(old.Flow, Trigger{Kind: TriggerRollback, By: by, RollbackOf: id}, old.Args, steps)
	nrec.Plan = steps
	nrec.Run.Message = "jobs, commands and backups are never undone; run " + id + " had none"
	if len(undone) > 0 {
		nrec.Run.Message = "not undone (never rolled back): " + strings.Join(undone, ", ")
	}
	e.save(nrec)
	e.active[nrec.Run.ID] = newActive(nrec)
	e.launchLocked(nrec.Run.ID)
	return cloneRun(e.active[nrec.Run.ID].rec.Run), nil
}

// rollbackStep puts one service back to a revision and waits for it.
func (e *Engine) rollbackStep(ctx context.Context, a *active, s Step, out *lineBuffer) error {
	rels, err := e.releaser()
	if err != nil {
		return err
	}
	rb := s.Rollback
	ref := model.Ref{Project: rb.Project, Service: rb.Service}
	trigger := model.ReleaseTrigger{Kind: model.TriggerRollback, By: a.rec.Run.Trigger.By, FlowRun: a.rec.Run.ID}
	rel, err := rels.Rollback(ctx, ref, rb.Revision, trigger, fmt.Sprintf("rollback of flow run %s", a.rec.Run.Trigger.RollbackOf))
	var re *release.Error
	if errors.As(err, &re) && re.Code == http.StatusBadRequest && strings.Contains(re.Msg, "already runs") {
		out.Printf("%s already runs the spec of revision %d", ref, rb.Revision)
		e.update(a, s.Name, func(st *StepState) { st.Message = fmt.Sprintf("already at revision %d's spec", rb.Revision) })
		return nil
	}
	if err != nil {
		return fmt.Errorf("roll %s back to revision %d: %w", ref, rb.Revision, err)
	}
	e.update(a, s.Name, func(st *StepState) { st.Revision = rel.Revision })
	out.Printf("%s: rolling back to revision %d as revision %d", ref, rb.Revision, rel.Revision)
	return e.follow(ctx, rels, ref, rel.Revision, out)
}
