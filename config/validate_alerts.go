package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

func (v *validator) alerts(a Alerts) {
	for _, k := range sortedKeys(a.Throttle) {
		if k != ThrottleDefault && !slices.Contains(EventNames, k) {
			known := append([]string{ThrottleDefault}, EventNames...)
			v.errorf(child("alerts.throttle", k), "unknown event%s; keys are default or an event name (%s)", suggest(k, known, ""), strings.Join(EventNames, ", "))
		}
	}
	v.atLeast("alerts.crashLoop.restarts", a.CrashLoop.Restarts, 1)
	if a.CrashLoop.Window <= 0 {
		v.errorf("alerts.crashLoop.window", "must be more than 0s")
	}
	v.percent("alerts.cpu.threshold", a.CPU.Threshold)
	v.percent("alerts.memory.threshold", a.Memory.Threshold)
	seen := map[string]string{}
	for i, t := range a.Volume.Thresholds {
		p := elem("alerts.volume.thresholds", i)
		v.percent(p, t)
		v.unique(seen, fmt.Sprint(t), p, "threshold")
	}
	for i, s := range a.Silences {
		p := elem("alerts.silences", i)
		if len(s.Matchers) == 0 {
			v.errorf(child(p, "matchers"), "needs at least one of %s (a silence that matches everything is not allowed)", strings.Join(SilenceMatcherKeys, ", "))
		}
		for _, k := range sortedKeys(s.Matchers) {
			mp := child(child(p, "matchers"), k)
			switch {
			case !slices.Contains(SilenceMatcherKeys, k):
				v.errorf(mp, "unknown matcher%s (known: %s)", suggest(k, SilenceMatcherKeys, ""), strings.Join(SilenceMatcherKeys, ", "))
			case k == "event":
				if msg := checkEventFilter(s.Matchers[k]); msg != "" {
					v.errorf(mp, "%s", msg)
				}
			case s.Matchers[k] == "":
				v.errorf(mp, "must not be empty")
			}
		}
		if s.Until.IsZero() {
			v.errorf(child(p, "until"), "is required: an RFC 3339 time such as 2026-12-01T00:00:00Z")
		}
	}
}

func (v *validator) percent(path string, f float64) {
	if f < 0 || f > 100 {
		v.errorf(path, "must be a percentage from 0 to 100, got %g", f)
	}
}

var currency = regexp.MustCompile(`^[A-Z]{3}$`)

func (v *validator) spend(s Spend) {
	if !currency.MatchString(s.Currency) {
		v.errorf("spend.currency", "must be a three-letter ISO 4217 code such as USD or EUR, got %q", truncate(s.Currency, 20))
	}
	for _, price := range []struct {
		key   string
		value float64
	}{
		{"cpuCoreHour", s.Prices.CPUCoreHour},
		{"memoryGiBHour", s.Prices.MemoryGiBHour},
		{"storageGiBMonth", s.Prices.StorageGiBMonth},
	} {
		if price.value < 0 {
			v.errorf(child("spend.prices", price.key), "must be 0 or more, got %g", price.value)
		}
	}
	switch s.Basis {
	case BasisRequests, BasisUsage, BasisMax:
	default:
		v.errorf("spend.basis", "must be requests, usage or max, got %q", truncate(s.Basis, 20))
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" {
		v.errorf("spend.timeZone", "must be an IANA time zone such as UTC or Europe/Berlin, got %q", truncate(s.TimeZone, 40))
	}
	if r := s.Retention; r.HourlyMonths < 1 {
		v.errorf("spend.retention.hourlyMonths", "must be 1 or more (the current month counts), got %d", r.HourlyMonths)
	} else if r.Months < r.HourlyMonths {
		v.errorf("spend.retention.months", "must be at least spend.retention.hourlyMonths (%d), got %d", r.HourlyMonths, r.Months)
	}
	overridden, pools := map[string]string{}, map[string]string{}
	for i, o := range s.Overrides {
		p := elem("spend.overrides", i)
		switch {
		case o.Project == "" && o.NodePool == "":
			v.errorf(p, "needs project or nodePool")
		case o.Project != "" && o.NodePool != "":
			v.errorf(child(p, "nodePool"), "cannot be given with project: an override is for one project or one node pool")
		case o.Project != "":
			v.name(child(p, "project"), o.Project)
			v.unique(overridden, o.Project, p, "price override for project")
		default:
			v.unique(pools, o.NodePool, p, "price override for node pool")
		}
		for _, price := range []struct {
			key   string
			value float64
		}{{"cpuCoreHour", o.Prices.CPUCoreHour}, {"memoryGiBHour", o.Prices.MemoryGiBHour}, {"storageGiBMonth", o.Prices.StorageGiBMonth}} {
			if price.value < 0 {
				v.errorf(child(child(p, "prices"), price.key), "must be 0 or more, got %g", price.value)
			}
		}
	}
	seen := map[string]string{}
	for i, a := range s.Alerts {
		p := elem("spend.alerts", i)
		if a.Amount <= 0 {
			v.errorf(child(p, "amount"), "must be more than 0, got %g", a.Amount)
		}
		if a.Project != "" {
			v.name(child(p, "project"), a.Project)
		}
		v.unique(seen, fmt.Sprintf("%g for project %q", a.Amount, a.Project), p, "spend alert")
	}
}

// retry checks notifications.retry and each integration's retry overrides.
func (v *validator) retry(n Notifications) {
	r := n.Retry
	for _, d := range []struct {
		key   string
		value Duration
	}{{"initialBackoff", r.InitialBackoff}, {"maxBackoff", r.MaxBackoff}, {"giveUpAfter", r.GiveUpAfter}} {
		if d.value <= 0 {
			v.errorf(child("notifications.retry", d.key), "must be more than 0s")
		}
	}
	v.atLeast("notifications.retry.disableAfter", r.DisableAfter, 1)
	if r.InitialBackoff > 0 && r.MaxBackoff > 0 && r.MaxBackoff < r.InitialBackoff {
		v.errorf("notifications.retry.maxBackoff", "must be at least initialBackoff (%s), got %s", r.InitialBackoff, r.MaxBackoff)
	}
	for i, in := range n.Integrations {
		if in.Retry == nil {
			continue
		}
		p := child(elem("notifications.integrations", i), "retry")
		o := *in.Retry
		for _, d := range []struct {
			key   string
			value Duration
		}{{"initialBackoff", o.InitialBackoff}, {"maxBackoff", o.MaxBackoff}, {"giveUpAfter", o.GiveUpAfter}} {
			if d.value <= 0 && v.given(child(p, d.key)) {
				v.errorf(child(p, d.key), "must be more than 0s; leave it out to keep notifications.retry.%s", d.key)
			}
		}
		if o.DisableAfter < 0 || (o.DisableAfter == 0 && v.given(child(p, "disableAfter"))) {
			v.errorf(child(p, "disableAfter"), "must be 1 or more, got %d; leave it out to keep notifications.retry.disableAfter", o.DisableAfter)
		}
		eff := n.RetryFor(in)
		if eff.InitialBackoff > 0 && eff.MaxBackoff < eff.InitialBackoff && (o.InitialBackoff > 0 || o.MaxBackoff > 0) {
			at := child(p, "maxBackoff")
			if o.MaxBackoff == 0 {
				at = child(p, "initialBackoff")
			}
			v.errorf(at, "maxBackoff (%s) must be at least initialBackoff (%s)", eff.MaxBackoff, eff.InitialBackoff)
		}
	}
}
