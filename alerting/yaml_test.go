package alerting

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// yamlNode turns v into the mapping node a notifier's Spec carries.
func yamlNode(t testing.TB, v any) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		t.Fatal(err)
	}
	return &n
}
