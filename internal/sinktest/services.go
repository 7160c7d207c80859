package sinktest

import (
	"context"
	"testing"

	"github.com/opshub/opshub/model"
)

// ServiceNames returns project/name of every service p (a platform) lists,
// in its order; the test fails when p cannot list them.
func ServiceNames(t testing.TB, p interface {
	Services(context.Context) ([]model.Service, error)
}) []string {
	t.Helper()
	svcs, err := p.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range svcs {
		names = append(names, s.Ref().String())
	}
	return names
}
