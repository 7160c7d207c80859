package main

import (
	"fmt"
	"io"
	"time"

	"github.com/opshub/opshub/model"
)

// renderContinuous prints each continuous deployment of a service: what
// it follows, whether a deploy by hand paused it, the digest seen and the
// one deployed.
func renderContinuous(w io.Writer, states []model.ContinuousState) {
	for _, st := range states {
		follows := st.Image + ":" + st.Tag
		if st.Semver != "" {
			follows = st.Image + " (semver " + st.Semver + ")"
		}
		what := "Continuous deployment"
		if st.Container != "" {
			what += " of container " + st.Container
		}
		fmt.Fprintln(w)
		if st.Paused {
			fmt.Fprintf(w, "%s: %s: PAUSED", what, follows)
			if st.PausedReason != "" {
				fmt.Fprintf(w, " (%s", st.PausedReason)
				if st.PausedBy != "" {
					fmt.Fprintf(w, " by %s", st.PausedBy)
				}
				if st.PausedAt != nil {
					fmt.Fprintf(w, " at %s", st.PausedAt.Local().Format("2006-01-02 15:04:05"))
				}
				fmt.Fprint(w, ")")
			}
			fmt.Fprintf(w, "; resume with: opshub deploy %s/%s --resume-continuous\n", st.Project, st.Service)
		} else {
			fmt.Fprintf(w, "%s: %s: on\n", what, follows)
		}
		if st.Digest != "" {
			fmt.Fprintf(w, "  registry: %s points at %s (checked %s)\n", st.ResolvedTag, st.Digest, st.Checked.Local().Format(time.TimeOnly))
		}
		if st.Deployed != "" {
			fmt.Fprintf(w, "  deployed: %s", st.Deployed)
			if st.Revision != 0 {
				fmt.Fprintf(w, " (revision %d", st.Revision)
				if st.Outcome != "" {
					fmt.Fprintf(w, ", %s", st.Outcome)
				}
				fmt.Fprint(w, ")")
			}
			fmt.Fprintln(w)
		}
		if st.FailedDigest != "" {
			fmt.Fprintf(w, "  failed: %s is not deployed again until the tag moves\n", st.FailedDigest)
		}
		if st.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", st.Error)
		}
	}
}
