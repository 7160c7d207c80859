package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/server"
)

// scaledServices is a service list whose Scale changes it, as a platform's.
type scaledServices struct{ svcs []model.Service }

func (s *scaledServices) Services(context.Context) ([]model.Service, error) { return s.svcs, nil }

func (s *scaledServices) Service(_ context.Context, project, name string) (model.Service, error) {
	for _, svc := range s.svcs {
		if svc.Project == project && svc.Name == name {
			return svc, nil
		}
	}
	return model.Service{}, fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
}

func (s *scaledServices) Scale(_ context.Context, project, name string, replicas int) error {
	for i := range s.svcs {
		if s.svcs[i].Project == project && s.svcs[i].Name == name {
			s.svcs[i].Replicas = replicas
			return nil
		}
	}
	return fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
}

func TestScale(t *testing.T) {
	svcs := &scaledServices{svcs: []model.Service{
		{Project: "shop", Name: "web", Replicas: 2},
		{Project: "shop", Name: "worker", Replicas: 1},
	}}
	srv, err := server.New(server.Options{
		Services: svcs, Scaler: svcs,
		Autoscaled: func(project, service string) (int, int, bool) { return 2, 6, service == "web" },
	})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(srv.Handler())
	defer api.Close()

	t.Run("scales a service named alone", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "--server", api.URL, "scale", "worker", "--replicas", "3")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if stdout != "shop/worker scaled from 1 to 3 replicas\n" || stderr != "" {
			t.Errorf("stdout %q stderr %q", stdout, stderr)
		}
		if svcs.svcs[1].Replicas != 3 {
			t.Errorf("worker has %d replicas, want 3", svcs.svcs[1].Replicas)
		}
	})
	t.Run("warns when an autoscaling policy manages the service", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "--server", api.URL, "scale", "shop/web", "--replicas", "4")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "from 2 to 4") || !strings.Contains(stderr, "warning: shop/web is managed by an autoscaling policy (min 2, max 6)") {
			t.Errorf("stdout %q stderr %q", stdout, stderr)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"scale", "web"},
			{"scale", "web", "--replicas", "-1"},
			{"scale", "--replicas", "2"},
		} {
			if code, _, _ := runCLI(t, append([]string{"--server", api.URL}, args...)...); code != exitUsage {
				t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
			}
		}
	})
	t.Run("an unknown service fails", func(t *testing.T) {
		code, _, stderr := runCLI(t, "--server", api.URL, "scale", "shop/nope", "--replicas", "1")
		if code != exitFailure || !strings.Contains(stderr, "not found") {
			t.Errorf("exit %d stderr %q", code, stderr)
		}
	})
}
