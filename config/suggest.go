package config

import (
	"gopkg.in/yaml.v3"
	"strconv"
	"strings"
)

// suggest returns `, did you mean "x"?` for the known word closest to s, or
// "" when none is close enough to be a plausible typo.
func suggest(s string, known []string, suffix string) string {
	best := closest(s, known)
	if best == "" {
		return ""
	}
	return ", did you mean " + strconv.Quote(best+suffix) + "?"
}

// closest returns the known word s is a plausible typo of, or "".
func closest(s string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		d := editDistance(strings.ToLower(s), strings.ToLower(k))
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > max(1, len(s)/3) {
		return ""
	}
	return best
}

// failTypo records an unknown key in the mapping n at path. When the key is
// a plausible typo of a known key that the mapping lacks, that key is marked
// as failed too: "comand" already says "did you mean command", and a second
// error that command is missing would report one mistake twice.
func (l *loader) failTypo(n *yaml.Node, line int, path, key string, known []string) {
	l.rep.fail(line, child(path, key), "unknown key%s (known keys: %s)", suggest(key, known, ""), strings.Join(known, ", "))
	best := closest(key, known)
	if best == "" {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == best {
			return
		}
	}
	l.rep.failed[child(path, best)] = true
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Long keys are not typos of short ones; keep the cost bounded.
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
