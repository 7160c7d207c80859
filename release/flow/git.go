package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// poll reads a git trigger's branch every interval and starts a run for
// each head commit it has not seen. The first head it ever reads is taken
// as the starting point, not as a new commit.
func (e *Engine) poll(ctx context.Context, flow string, g Git) {
	interval := g.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	key := flow + "/" + g.Repo + "/" + g.Branch
	failing := false
	for {
		head, err := e.lsRemote(ctx, g)
		if ctx.Err() == nil {
			e.noteGit(flow, g, head, err)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				e.log.Warn("git trigger: read branch", "flow", flow, "repo", g.Repo, "branch", g.Branch, "error", err)
			}
			failing = true
		default:
			if failing {
				e.log.Info("git trigger: branch readable again", "flow", flow, "repo", g.Repo)
			}
			failing = false
			e.seeHead(flow, key, g, head)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (e *Engine) seeHead(flow, key string, g Git, head string) {
	last, ok, err := e.heads.Get(key)
	if err != nil {
		e.log.Error("git trigger: read last head", "error", err)
		return
	}
	if ok && last == head {
		return
	}
	if err := e.heads.Put(key, head); err != nil {
		e.log.Error("git trigger: record head", "error", err)
		return
	}
	if !ok {
		e.log.Info("git trigger: following branch", "flow", flow, "repo", g.Repo, "branch", g.Branch, "head", head)
		return
	}
	run, err := e.Start(flow, Trigger{Kind: TriggerGit}, map[string]string{"SHA": head, "BRANCH": g.Branch, "REPO": g.Repo})
	if err != nil {
		e.log.Warn("git trigger: run not started", "flow", flow, "head", head, "reason", err)
		return
	}
	e.log.Info("git trigger: new commit", "flow", flow, "head", head, "run", run.ID)
}

// lsRemote returns the head commit of the trigger's branch.
func (e *Engine) lsRemote(ctx context.Context, g Git) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ref := "refs/heads/" + g.Branch
	cmd := exec.CommandContext(ctx, e.opts.Git, "ls-remote", "--", g.Repo, ref)
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git ls-remote %s %s: %w: %s", g.Repo, ref, err, strings.TrimSpace(stderr.String()))
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && name == ref {
			return sha, nil
		}
	}
	return "", errors.New("branch " + g.Branch + " not found in " + g.Repo)
}

// GitState is what a git trigger saw when it last read its branch.
type GitState struct {
	Repo    string    `json:"repo"`
	Branch  string    `json:"branch"`
	Head    string    `json:"head,omitempty"`
	Checked time.Time `json:"checked,omitzero"`
	Error   string    `json:"error,omitempty"`
}

func (e *Engine) noteGit(flow string, g Git, head string, err error) {
	st := GitState{Repo: g.Repo, Branch: g.Branch, Head: head, Checked: e.opts.Now().UTC()}
	if err != nil {
		st.Error = err.Error()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.git == nil {
		e.git = map[string]GitState{}
	}
	e.git[flow+"/"+g.Repo+"/"+g.Branch] = st
}

// GitTriggers says what each git trigger of a flow saw last; a trigger
// not read yet has only its repository and branch.
func (e *Engine) GitTriggers(flow string) []GitState {
	s := e.flow(flow)
	if s == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []GitState
	for _, g := range s.Git {
		st, ok := e.git[flow+"/"+g.Repo+"/"+g.Branch]
		if !ok {
			st = GitState{Repo: g.Repo, Branch: g.Branch}
		}
		out = append(out, st)
	}
	return out
}
