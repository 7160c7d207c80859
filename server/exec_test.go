package server

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/platform"
)

// refusedPort is an instance connection that fails once the session is
// open, as a Kubernetes port-forward does when the kubelet cannot connect.
type refusedPort struct{ platform.Execer }

func (refusedPort) DialInstance(context.Context, platform.Target, int) (io.ReadWriteCloser, error) {
	return failingConn{}, nil
}

type failingConn struct{}

func (failingConn) Read([]byte) (int, error) {
	return 0, errors.New("failed to connect to localhost:9999 inside pod web-7f9c-0: connection refused")
}
func (failingConn) Write(p []byte) (int, error) { return len(p), nil }
func (failingConn) Close() error                { return nil }

func TestForwardSaysWhyTheInstanceSideFailed(t *testing.T) {
	s := newTestServer(t, Options{Exec: ExecOptions{Execer: refusedPort{}}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c, err := client.New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.Forward(context.Background(), "demo", "web", "web-7f9c-0", 9999)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.ReadAll(conn)
	var fe *client.ForwardError
	if !errors.As(err, &fe) || fe.Reason != "failed to connect to localhost:9999 inside pod web-7f9c-0: connection refused" {
		t.Errorf("reading the forwarded connection: %v, want a ForwardError with the instance side's reason", err)
	}
}
