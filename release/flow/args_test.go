package flow

import (
	"reflect"
	"testing"
)

func TestArguments(t *testing.T) {
	steps := []Step{
		{Name: "deploy", Deploy: &DeployStep{Project: "demo", Service: "${ARG_SERVICE}", Env: map[string]string{"VERSION": "v${ARG_VERSION}", "${ARG_KEY}": "x"}}},
		{Name: "notify", HTTP: &HTTPStep{URL: "https://chat.example.com/${ARG_ROOM}", Body: "shipped ${ARG_VERSION} ${NOT_AN_ARG}"}, Needs: []string{"deploy"}},
	}
	args, err := NormalizeArgs(map[string]string{"service": "web", "ARG_VERSION": "1.2", "key": "K", "Room": "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if got := missing(steps, map[string]string{"SERVICE": "web"}); !reflect.DeepEqual(got, []string{"ARG_KEY", "ARG_ROOM", "ARG_VERSION"}) {
		t.Errorf("missing = %v", got)
	}
	if got := missing(steps, args); got != nil {
		t.Errorf("missing with every argument = %v", got)
	}
	out, err := substitute(steps, args)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Name: "deploy", Deploy: &DeployStep{Project: "demo", Service: "web", Env: map[string]string{"VERSION": "v1.2", "K": "x"}}},
		{Name: "notify", HTTP: &HTTPStep{URL: "https://chat.example.com/ops", Body: "shipped 1.2 ${NOT_AN_ARG}"}, Needs: []string{"deploy"}},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("substitute = %+v %+v, want %+v %+v", out[0].Deploy, out[1].HTTP, want[0].Deploy, want[1].HTTP)
	}
	if steps[0].Deploy.Service != "${ARG_SERVICE}" {
		t.Error("substitute changed the flow's own steps")
	}
	if _, err := NormalizeArgs(map[string]string{"a b": "x"}); err == nil {
		t.Error("an argument name with a space is accepted")
	}
}

func TestCheckSteps(t *testing.T) {
	for name, steps := range map[string][]Step{
		"cycle":      {{Name: "a", Needs: []string{"b"}, Run: &RunStep{}}, {Name: "b", Needs: []string{"a"}, Run: &RunStep{}}},
		"no kind":    {{Name: "a"}},
		"need":       {{Name: "a", Needs: []string{"z"}, Run: &RunStep{}}},
		"twice":      {{Name: "a", Run: &RunStep{}}, {Name: "a", Run: &RunStep{}}},
		"empty flow": nil,
	} {
		if err := checkSteps(steps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@chat.example.com/hook?token=x": "https://chat.example.com/hook",
		"https://chat.example.com/a@b":                  "https://chat.example.com/a@b",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
