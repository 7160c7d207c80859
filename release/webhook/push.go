package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Push is what a push payload says about the push.
type Push struct {
	// Branch is the pushed branch ("main" for ref refs/heads/main); ""
	// for a tag or another ref.
	Branch string
	// SHA is the new head commit (after).
	SHA string
	// Repository is owner/name (GitHub full_name, GitLab
	// path_with_namespace).
	Repository string
	// Message is the head commit's message.
	Message string
}

// SkipCI reports whether the head commit asks not to be built: "[skip ci]"
// or "[ci skip]" in its message.
func (p Push) SkipCI() bool {
	m := strings.ToLower(p.Message)
	return strings.Contains(m, "[skip ci]") || strings.Contains(m, "[ci skip]")
}

// pushPayload has the fields GitHub and GitLab push payloads share, and
// those each names differently.
type pushPayload struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Repository struct {
		FullName string `json:"full_name"` // GitHub
	} `json:"repository"`
	Project struct {
		PathWithNamespace string `json:"path_with_namespace"` // GitLab
	} `json:"project"`
	HeadCommit *struct {
		Message string `json:"message"`
	} `json:"head_commit"` // GitHub
	Commits []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"commits"`
}

// ParsePush reads a GitHub or GitLab push payload. ok is false when body is
// not a push (no ref).
func ParsePush(body []byte) (p Push, ok bool, err error) {
	var raw pushPayload
	if err := json.Unmarshal(body, &raw); err != nil {
		return Push{}, false, fmt.Errorf("push payload: %w", err)
	}
	if raw.Ref == "" {
		return Push{}, false, nil
	}
	p.Branch, _ = strings.CutPrefix(raw.Ref, "refs/heads/")
	if p.Branch == raw.Ref {
		p.Branch = ""
	}
	p.SHA = raw.After
	p.Repository = raw.Repository.FullName
	if p.Repository == "" {
		p.Repository = raw.Project.PathWithNamespace
	}
	if raw.HeadCommit != nil {
		p.Message = raw.HeadCommit.Message
	} else {
		for _, c := range raw.Commits {
			if c.ID == raw.After {
				p.Message = c.Message
			}
		}
	}
	return p, true, nil
}
