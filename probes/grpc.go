package probes

import (
	"context"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// grpcHandler asks the standard health service, over plaintext as the
// kubelet does, and passes only on SERVING.
type grpcHandler struct {
	action GRPCAction
}

var _ Handler = (*grpcHandler)(nil)

func (h *grpcHandler) Describe() string {
	s := "grpc " + portText(h.action.Port)
	if h.action.Service != "" {
		s += " service=" + h.action.Service
	}
	return s
}

// Probe calls grpc.health.v1.Health/Check once within timeout. Its failure
// outputs are the kubelet's: "service unhealthy (responded with
// \"NOT_SERVING\")", "error: this server does not implement the grpc health
// protocol (grpc.health.v1.Health): …", "timeout: health rpc did not
// complete within 1s", "error: failed to connect service at …".
func (h *grpcHandler) Probe(ctx context.Context, t Target, timeout time.Duration) Outcome {
	addr := net.JoinHostPort(t.host(), strconv.Itoa(portFor(h.action.Port, t)))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dialer := probeDialer(timeout)
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent(userAgent),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}),
	)
	if err != nil {
		return failed("error: failed to connect service at %q: %+v", addr, err)
	}
	defer conn.Close()
	// Without WaitForReady a refused connection fails the call at once
	// (Unavailable), as a refused probe should.
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: h.action.Service})
	if err != nil {
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.Unimplemented:
			return failed("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", st.Message())
		case codes.DeadlineExceeded:
			return failed("timeout: health rpc did not complete within %v", timeout)
		case codes.Unavailable:
			return failed("error: failed to connect service at %q: %s", addr, st.Message())
		}
		return failed("error: health rpc probe failed: %+v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return failed("service unhealthy (responded with %q)", resp.GetStatus().String())
	}
	return Outcome{Result: Success, Output: "service healthy"}
}
