package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// The JSON the lint reads: only the fields the rules look at.
type lintDashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []lintVariable `json:"list"`
	} `json:"templating"`
	Panels []lintPanel `json:"panels"`
}

type lintVariable struct {
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Query      any           `json:"query"`
	Datasource *lintDatasrc  `json:"datasource"`
	Multi      bool          `json:"multi"`
	IncludeAll bool          `json:"includeAll"`
	AllValue   string        `json:"allValue"`
	Current    *lintVarValue `json:"current"`
}

type lintVarValue struct {
	Value any `json:"value"`
}

type lintDatasrc struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type lintPanel struct {
	ID          int          `json:"id"`
	Type        string       `json:"type"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Datasource  *lintDatasrc `json:"datasource"`
	Targets     []struct {
		RefID      string       `json:"refId"`
		Expr       string       `json:"expr"`
		Datasource *lintDatasrc `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// committed reads every committed dashboard, by file name.
func committed(t *testing.T) map[string]lintDashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("grafana", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in grafana/ (%v); run make dashboards", err)
	}
	out := map[string]lintDashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d lintDashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = d
	}
	return out
}

// Stand-ins for Grafana's interval variables while parsing: distinct
// durations, so that the lint can tell which one a range used.
const (
	rateIntervalStandIn = 1234 * time.Second
	rangeStandIn        = 4321 * time.Second
	intervalStandIn     = 61 * time.Second
)

// promQL returns expr with Grafana's interval variables replaced by
// durations PromQL accepts; template variables inside label values stay as
// they are (in a regular expression "$project" is valid).
func promQL(expr string) string {
	return strings.NewReplacer(
		"$__rate_interval", fmt.Sprintf("%ds", int(rateIntervalStandIn.Seconds())),
		"$__range", fmt.Sprintf("%ds", int(rangeStandIn.Seconds())),
		"$__interval", fmt.Sprintf("%ds", int(intervalStandIn.Seconds())),
	).Replace(expr)
}

// counterLike tells whether a series name is a counter, or a histogram's or
// summary's cumulative part, by Prometheus' naming rules. Recorded series
// (with a colon) are the results of rules, not counters.
func counterLike(name string) bool {
	if strings.Contains(name, ":") {
		return false
	}
	for _, suffix := range []string{"_total", "_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// lintExpr applies the query rules to one PromQL expression and returns
// what is wrong with it.
func lintExpr(expr string) []string { return lint(expr, true) }

// lint applies the rules; a variable's selector (panels=false) only lists
// label values, so it may name a counter bare.
func lint(expr string, panels bool) []string {
	parsed, err := parser.ParseExpr(promQL(expr))
	if err != nil {
		return []string{fmt.Sprintf("does not parse: %v", err)}
	}
	var problems []string
	parser.Inspect(parsed, func(node parser.Node, path []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				if strings.Contains(m.Value, "$") && m.Type != labels.MatchRegexp {
					problems = append(problems, fmt.Sprintf("matcher %s on a variable must use =~ (a multi-value or All variable is a regular expression)", m))
				}
			}
			if panels && counterLike(n.Name) && !inRateOrIncrease(path) {
				problems = append(problems, fmt.Sprintf("counter %s must be wrapped in rate() or increase()", n.Name))
			}
		case *parser.Call:
			if len(n.Args) == 0 {
				return nil
			}
			ms, ok := n.Args[0].(*parser.MatrixSelector)
			if !ok {
				return nil
			}
			switch n.Func.Name {
			case "rate", "irate":
				if ms.Range != rateIntervalStandIn {
					problems = append(problems, fmt.Sprintf("%s() must range over [$__rate_interval]", n.Func.Name))
				}
			case "increase":
				if ms.Range != rateIntervalStandIn && ms.Range != rangeStandIn {
					problems = append(problems, "increase() must range over [$__rate_interval] or [$__range]")
				}
			}
		}
		return nil
	})
	return problems
}

// inRateOrIncrease tells whether a selector, given its ancestors, is the
// range of a rate(), irate() or increase().
func inRateOrIncrease(path []parser.Node) bool {
	if len(path) < 2 {
		return false
	}
	if _, ok := path[len(path)-1].(*parser.MatrixSelector); !ok {
		return false
	}
	call, ok := path[len(path)-2].(*parser.Call)
	return ok && slices.Contains([]string{"rate", "irate", "increase"}, call.Func.Name)
}

// labelValuesQuery matches a Prometheus variable query.
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+), *([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func TestDashboardsFollowTheLintRules(t *testing.T) {
	boards := committed(t)
	for _, b := range All() {
		if _, ok := boards[b.Name]; !ok {
			t.Errorf("dashboard %s is not committed", b.Name)
		}
	}
	for name, d := range boards {
		t.Run(name, func(t *testing.T) {
			if d.UID != UIDPrefix+name {
				t.Errorf("uid %q, want %s%s", d.UID, UIDPrefix, name)
			}
			if d.Title == "" {
				t.Error("no title")
			}
			lintVariables(t, d.Templating.List)
			panels := 0
			for _, p := range d.Panels {
				if p.Type == "row" {
					continue
				}
				panels++
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if p.Title == "" {
					t.Errorf("%s: no title", where)
				}
				if p.Description == "" {
					t.Errorf("%s: no description", where)
				}
				if p.FieldConfig.Defaults.Unit == "" {
					t.Errorf("%s: no unit", where)
				}
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
					t.Errorf("%s: datasource %+v, want the datasource variable", where, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no query", where)
				}
				for _, tg := range p.Targets {
					if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
						t.Errorf("%s, query %s: datasource %+v, want the datasource variable", where, tg.RefID, tg.Datasource)
					}
					for _, problem := range lintExpr(tg.Expr) {
						t.Errorf("%s, query %s: %s\n\t%s", where, tg.RefID, problem, tg.Expr)
					}
				}
			}
			if panels == 0 {
				t.Error("no panels")
			}
		})
	}
}

// lintVariables checks the datasource, project, service and instance
// variables every dashboard has.
func lintVariables(t *testing.T, vars []lintVariable) {
	t.Helper()
	byName := map[string]lintVariable{}
	for _, v := range vars {
		byName[v.Name] = v
	}
	if ds, ok := byName["datasource"]; !ok || ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf("datasource variable %+v, want a Prometheus datasource variable", ds)
	}
	for _, name := range []string{"project", "service", "instance"} {
		v, ok := byName[name]
		if !ok {
			t.Errorf("no %s variable", name)
			continue
		}
		if v.Type != "query" || !v.Multi || !v.IncludeAll || v.AllValue != ".*" {
			t.Errorf("variable %s: type %s multi %v includeAll %v allValue %q, want a multi-value query variable with All = .*", name, v.Type, v.Multi, v.IncludeAll, v.AllValue)
		}
		if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s: datasource %+v, want the datasource variable", name, v.Datasource)
		}
		query, _ := v.Query.(string)
		m := labelValuesQuery.FindStringSubmatch(query)
		if m == nil || m[2] != name {
			t.Errorf("variable %s: query %q, want label_values(<selector>, %s)", name, query, name)
			continue
		}
		for _, problem := range lint(m[1], false) {
			t.Errorf("variable %s: %s\n\t%s", name, problem, m[1])
		}
	}
}

// TestDashboardsLoadAsFoundationSDKTypes reads the committed JSON back into
// the SDK's dashboard type, panels and queries included, as Grafana's own
// schema describes them.
func TestDashboardsLoadAsFoundationSDKTypes(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := filepath.Glob(filepath.Join("grafana", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if d.Uid == nil || len(d.Panels) == 0 {
			t.Errorf("%s: read back without uid or panels", f)
		}
	}
}

func TestLintCatchesWhatItShould(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string
	}{
		{"bare counter", `sum(opshub_collector_lines_total)`, "must be wrapped in rate() or increase()"},
		{"counter in a gauge function", `max_over_time(opshub_collector_lines_total[$__rate_interval])`, "must be wrapped"},
		{"fixed rate window", `rate(opshub_collector_lines_total[5m])`, "[$__rate_interval]"},
		{"equality on a variable", `opshub_service_ready_instances{project="$project"}`, "must use =~"},
		{"no parse", `sum(rate(opshub_collector_lines_total[$__rate_interval])`, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := lintExpr(tc.expr)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("lint of %s said %q, want a problem saying %q", tc.expr, problems, tc.want)
			}
		})
	}
	if p := lintExpr(`histogram_quantile(0.99, sum by (le) (rate(opshub_http_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))`); len(p) != 0 {
		t.Errorf("a good query was refused: %q", p)
	}
}
