package kubelet

import (
	"bytes"
	"testing"
)

func TestWriteKeptLabels(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"drops long labels", `m{container="web",id="/kubepods/x",image="a:b",name="c",namespace="demo",pod="p"} 1 5`, `m{container="web",namespace="demo",pod="p"} 1 5`, true},
		{"escaped quotes and commas in dropped values", `m{id="a\"},b",pod="p\\"} 2`, `m{pod="p\\"} 2`, true},
		{"trailing comma", `m{pod="p",} 3`, `m{pod="p"} 3`, true},
		{"no labels: left to expfmt", `m 4`, ``, false},
		{"unterminated value: left to expfmt", `m{pod="p} 4`, ``, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			ok := writeKeptLabels(&b, []byte(tc.in))
			if ok != tc.ok || b.String() != tc.want {
				t.Errorf("writeKeptLabels(%q) = %q, %v; want %q, %v", tc.in, b.String(), ok, tc.want, tc.ok)
			}
		})
	}
}
