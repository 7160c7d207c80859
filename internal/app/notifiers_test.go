package app_test

import (
	"slices"
	"testing"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
)

// Every integration type the config accepts has a notifier.
func TestEveryIntegrationTypeHasANotifier(t *testing.T) {
	reg := app.Notifiers()
	for _, typ := range config.IntegrationTypes() {
		if _, ok := reg[typ]; !ok {
			t.Errorf("config accepts integration type %q but no notifier is registered", typ)
		}
	}
	var names []string
	for k := range reg {
		names = append(names, k)
	}
	for _, n := range names {
		if !slices.Contains(config.IntegrationTypes(), n) {
			t.Errorf("notifier %q is registered but config does not accept it", n)
		}
	}
}
