package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UIDPrefix starts every dashboard's uid: opshub-<name>.
const UIDPrefix = "opshub-"

// Board is one generated dashboard.
type Board struct {
	// Name is the file name (dashboards/grafana/<Name>.json) and the uid's
	// suffix.
	Name  string
	build func() *dashboard.DashboardBuilder
}

// Build returns the dashboard.
func (b Board) Build() (dashboard.Dashboard, error) {
	d, err := b.build().Build()
	if err != nil {
		return d, fmt.Errorf("dashboard %s: %w", b.Name, err)
	}
	// Panel ids in layout order, so that links to a panel (viewPanel=N)
	// stay stable between generations.
	for i := range d.Panels {
		id := uint32(i + 1)
		if p := d.Panels[i].Panel; p != nil {
			p.Id = &id
		}
		if r := d.Panels[i].RowPanel; r != nil {
			r.Id = id
		}
	}
	return d, nil
}

// datasource is the reference every panel, query and variable uses: the
// dashboard's datasource variable, so that one import works with any
// Prometheus.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// varSource names the series a dashboard's project, service and instance
// variables take their values from.
type varSource struct {
	// services carries project and service labels.
	services string
	// instances carries the instance label the dashboard filters on.
	instances string
	// instanceLabel is shown as the instance variable's label.
	instanceLabel string
	// instanceByService says whether instances are listed per project and
	// service (containers) or alone (opshub's own processes).
	instanceByService bool
}

// containers are the variables of the dashboards about services and their
// instances.
var containers = varSource{
	services:          "opshub_service_desired_replicas",
	instances:         "opshub_container_memory_working_set_bytes",
	instanceLabel:     "Instance",
	instanceByService: true,
}

// processes are the variables of the dashboards about opshub itself: the
// instance is the opshub process Prometheus scraped.
var processes = varSource{
	services:      "opshub_service_desired_replicas",
	instances:     "opshub_build_info",
	instanceLabel: "opshub instance",
}

// newBoard starts a dashboard with opshub's conventions: uid, tags, time
// range, and the datasource, project, service and instance variables
// (multi-value, with All matching every value, empty ones too).
func newBoard(name, title, description string, vs varSource) *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder(title).
		Uid(UIDPrefix+name).
		Description(description).
		Tags([]string{"opshub"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser)
	b.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").
		Description("The Prometheus that scrapes opshub's /metrics (with honor_labels: true).").
		Type("prometheus"))
	b.WithVariable(labelVariable("project", "Project", fmt.Sprintf("label_values(%s, project)", vs.services)))
	b.WithVariable(labelVariable("service", "Service", fmt.Sprintf(`label_values(%s{project=~"$project"}, service)`, vs.services)))
	instances := fmt.Sprintf("label_values(%s, instance)", vs.instances)
	if vs.instanceByService {
		instances = fmt.Sprintf(`label_values(%s{project=~"$project", service=~"$service"}, instance)`, vs.instances)
	}
	b.WithVariable(labelVariable("instance", vs.instanceLabel, instances))
	return b
}

// labelVariable is a multi-value query variable over a label's values.
// "All" is .*, so that it also matches series without the label (a budget
// of all projects has no project).
func labelVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// q is one PromQL query of a panel, drawn with legend.
type q struct {
	expr   string
	legend string
}

func targets(qs []q) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, x := range qs {
		out = append(out, prometheus.NewDataqueryBuilder().
			Datasource(datasource).
			RefId(string(rune('A'+i))).
			Expr(x.expr).
			LegendFormat(x.legend).
			Range())
	}
	return out
}

// series is a time series panel.
func series(title, description, unit string, qs ...q) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Unit(unit).
		Min(0).
		Height(8).
		Span(12).
		FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending)).
		Targets(targets(qs))
}

// single is a stat panel of one current value per series.
func single(title, description, unit string, qs ...q) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Unit(unit).
		Height(4).
		Span(6).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Targets(targets(qs))
}

// row starts a collapsible section.
func row(title string) *dashboard.RowBuilder { return dashboard.NewRowBuilder(title) }
