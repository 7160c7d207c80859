package autoscaler

import (
	"strings"
	"testing"
	"time"
)

func policy(min, max int) Policy {
	return Policy{MinReplicas: min, MaxReplicas: max, Metrics: []Metric{{Resource: CPU, TargetUtilization: 50}}, Behavior: DefaultBehavior()}
}

// podsAt returns n instances each using util percent of its 1-core request.
func podsAt(n int, util float64) []Pod {
	var ps []Pod
	for i := range n {
		ps = append(ps, pod(i, util/100))
	}
	return ps
}

func TestDecide(t *testing.T) {
	withUp := func(p Policy, r Rules) Policy { p.Behavior.ScaleUp = r; return p }
	withDown := func(p Policy, r Rules) Policy { p.Behavior.ScaleDown = r; return p }
	memToo := policy(1, 10)
	memToo.Metrics = append(memToo.Metrics, Metric{Resource: Memory, TargetUtilization: 50})
	memHigh := func(ps []Pod) []Pod {
		for i := range ps {
			ps[i].Usage[Memory] = Sample{Value: 1 << 30, Time: t0}
		}
		return ps
	}
	noCPURequest := func(ps []Pod) []Pod {
		for i := range ps {
			ps[i].Requests = map[Resource]float64{Memory: 1 << 30}
		}
		return ps
	}
	memLow := func(ps []Pod) []Pod {
		for i := range ps {
			ps[i].Usage[Memory] = Sample{Value: 1 << 26, Time: t0}
		}
		return ps
	}

	tests := []struct {
		name    string
		policy  Policy
		state   State
		current int
		pods    []Pod
		want    int
		limit   Limit
		reason  string
	}{
		{"default scale-up is max(4 pods, 100%) per 15s", policy(1, 20), State{}, 1, podsAt(1, 1000), 5, LimitRatePolicy, "scale-up policies allow 5"},
		{"100% wins over 4 pods on a larger service", policy(1, 40), State{}, 10, podsAt(10, 400), 20, LimitRatePolicy, "allow 20"},
		{"selectPolicy Min picks the smaller change", withUp(policy(1, 40), Rules{SelectPolicy: SelectMin, Policies: DefaultBehavior().ScaleUp.Policies}), State{}, 10, podsAt(10, 400), 14, LimitRatePolicy, "allow 14"},
		{"selectPolicy Disabled never scales up", withUp(policy(1, 40), Rules{SelectPolicy: SelectDisabled}), State{}, 2, podsAt(2, 400), 2, LimitDisabled, "scaling up is disabled"},
		{"Percent rounds up when scaling up", withUp(policy(1, 40), Rules{SelectPolicy: SelectMax, Policies: []RatePolicy{{Kind: Percent, Value: 50, Period: 15 * time.Second}}}), State{}, 3, podsAt(3, 1000), 5, LimitRatePolicy, "allow 5"},
		{"Percent truncates when scaling down", withDown(policy(1, 40), Rules{SelectPolicy: SelectMax, Policies: []RatePolicy{{Kind: Percent, Value: 50, Period: 15 * time.Second}}}), State{}, 5, podsAt(5, 5), 2, LimitRatePolicy, "allow 2"},
		{"scale-ups within the period count against the policy", policy(1, 40), State{ScaleUps: []ScaleEvent{{Change: 4, Time: t0.Add(-5 * time.Second)}}}, 5, podsAt(5, 1000), 5, LimitRatePolicy, "allow 5"},
		{"scale-ups older than the period do not", policy(1, 40), State{ScaleUps: []ScaleEvent{{Change: 4, Time: t0.Add(-20 * time.Second)}}}, 5, podsAt(5, 1000), 10, LimitRatePolicy, "allow 10"},
		{"maxReplicas caps", policy(1, 3), State{}, 2, podsAt(2, 200), 3, LimitMax, "maxReplicas 3"},
		{"minReplicas holds", withDown(policy(2, 10), Rules{SelectPolicy: SelectMax, Policies: DefaultBehavior().ScaleDown.Policies}), State{}, 4, podsAt(4, 1), 2, LimitMin, "minReplicas 2"},
		{"scale-down waits for the 300s window", policy(1, 10), State{Recommendations: []Recommendation{{Replicas: 4, Time: t0.Add(-200 * time.Second)}}}, 4, podsAt(4, 10), 4, LimitStabilization, "highest recommendation of the last 5m0s is 4"},
		{"scale-down after the window has passed", policy(1, 10), State{Recommendations: []Recommendation{{Replicas: 4, Time: t0.Add(-301 * time.Second)}}}, 4, podsAt(4, 10), 1, LimitNone, "metrics ask for 1"},
		{"scale-down goes to the highest recent recommendation", policy(1, 10), State{Recommendations: []Recommendation{{Replicas: 3, Time: t0.Add(-100 * time.Second)}, {Replicas: 2, Time: t0.Add(-50 * time.Second)}}}, 4, podsAt(4, 10), 3, LimitStabilization, "is 3"},
		{"an up window takes the lowest recent recommendation", withUp(policy(1, 20), Rules{StabilizationWindow: time.Minute, SelectPolicy: SelectMax, Policies: DefaultBehavior().ScaleUp.Policies}), State{Recommendations: []Recommendation{{Replicas: 3, Time: t0.Add(-30 * time.Second)}}}, 2, podsAt(2, 200), 3, LimitStabilization, "lowest recommendation of the last 1m0s is 3"},
		{"tolerance is explained", policy(1, 10), State{}, 2, podsAt(2, 52), 2, LimitTolerance, "within tolerance"},
		{"several metrics: the maximum wins", memToo, State{}, 2, memHigh(podsAt(2, 10)), 4, LimitNone, "metrics ask for 4"},
		{"an invalid metric blocks scale-down", memToo, State{}, 4, memLow(noCPURequest(podsAt(4, 10))), 4, LimitMissingRequest, "missing request for cpu"},
		{"an invalid metric does not block scale-up", memToo, State{}, 2, memHigh(noCPURequest(podsAt(2, 10))), 4, LimitNone, "metrics ask for 4"},
		{"replicas above max come down at once", policy(1, 3), State{}, 6, podsAt(6, 50), 3, LimitMax, "above maxReplicas"},
		{"scaled to zero by hand is left alone", policy(1, 3), State{}, 0, nil, 0, LimitDisabled, "scaled to zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.policy.Validate(); err != nil {
				t.Fatalf("test policy invalid: %v", err)
			}
			st := tt.state
			d := Decide(DefaultOptions(), tt.policy, &st, t0, tt.current, tt.pods)
			if d.Desired != tt.want || d.Limit != tt.limit || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("desired %d, limit %q, reason %q; want %d, %q, containing %q\nmetrics: %+v",
					d.Desired, d.Limit, d.Reason, tt.want, tt.limit, tt.reason, d.Metrics)
			}
		})
	}
}

func TestStateKeepsOnlyWhatTheWindowsNeed(t *testing.T) {
	p := policy(1, 10)
	st := &State{}
	for i := range 100 {
		now := t0.Add(time.Duration(i) * 15 * time.Second)
		d := Decide(DefaultOptions(), p, st, now, 2, podsAt(2, 50))
		st.RecordScale(p.Behavior, now, d.Current, d.Desired)
	}
	// 300 s window at 15 s per pass: 20 recommendations plus the newest.
	if n := len(st.Recommendations); n > 21 {
		t.Errorf("state holds %d recommendations, want at most 21", n)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := Policy{MinReplicas: 0, MaxReplicas: 0, Metrics: []Metric{{Resource: "gpu", TargetUtilization: 0}}, Behavior: DefaultBehavior()}
	p.Behavior.ScaleUp.Policies = []RatePolicy{{Kind: "Bytes", Value: 0, Period: 0}}
	err := p.Validate()
	if err == nil {
		t.Fatal("invalid policy accepted")
	}
	for _, want := range []string{"minReplicas must be at least 1", "maxReplicas must be at least 1", `resource must be cpu or memory, got "gpu"`,
		"targetUtilization must be greater than 0", `scaleUp.policies[0].type must be Pods or Percent`, "scaleUp.policies[0].value", "scaleUp.policies[0].periodSeconds"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
