package alerting

import (
	"strings"

	"github.com/opshub/opshub/model"
)

// DataResource is the Data key that names the thing inside an instance or
// service an event is about (a probe type, a volume, a sink), so that two of
// them do not share one throttle window or one alert.
const DataResource = "resource"

// resourceOf names what an event is about, for throttling and alert state.
func resourceOf(ev model.Event) string {
	parts := []string{ev.Project, ev.Service, ev.Instance}
	if r, ok := ev.Data[DataResource].(string); ok && r != "" {
		parts = append(parts, r)
	} else if r, ok := ev.Data["sink"].(string); ok && r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, "/")
}

// alertKey identifies one alert: an event name on one resource. The firing
// and resolved events of an alert share it.
func alertKey(ev model.Event) string {
	return ev.Name + "|" + resourceOf(ev)
}
