package server

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
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

// refusedMessage is as long as a kubelet's: longer than a close frame holds.
const refusedMessage = `error forwarding port 9999 to pod 0f6e2d4c-8d1a-4c1e-9a5b-3c2f1e0d9b8a, uid : failed to execute portforward in network namespace "/var/run/netns/cni-1b2c": failed to connect to localhost:9999 inside namespace "0f6e2d4c", IPv4: dial tcp4 127.0.0.1:9999: connect: connection refused`

func (failingConn) Read([]byte) (int, error) {
	return 0, errors.New(refusedMessage)
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
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.Reason, "dial tcp4 127.0.0.1:9999: connect: connection refused") || len(fe.Reason) > 123 {
		t.Errorf("reading the forwarded connection: %v, want a ForwardError with the end of the instance side's reason, at most 123 bytes", err)
	}
}
