package config

import "github.com/opshub/opshub/internal/plugins"

// testPlugins are the sink and integration types of the binary, so that
// the golden files show what `opshub check-config` reports.
var testPlugins Plugins = plugins.Set{}
