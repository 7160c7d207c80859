package probes

import (
	"context"
	"net"
	"strconv"
	"time"
)

// tcpHandler passes when a TCP connection to the port opens; it closes the
// connection at once, as the kubelet's DoTCPProbe does.
type tcpHandler struct {
	action TCPAction
}

var _ Handler = (*tcpHandler)(nil)

func (h *tcpHandler) Describe() string { return "tcp " + portText(h.action.Port) }

func (h *tcpHandler) Probe(ctx context.Context, t Target, timeout time.Duration) Outcome {
	port := portFor(h.action.Port, t)
	if ok, err := tcpProbeFast(t.host(), port, time.Now().Add(timeout)); ok {
		if err != nil {
			return failed("%s", err.Error())
		}
		return Outcome{Result: Success}
	}
	addr := net.JoinHostPort(t.host(), strconv.Itoa(port))
	conn, err := probeDialer(timeout).DialContext(ctx, "tcp", addr)
	if err != nil {
		return failed("%s", err.Error())
	}
	_ = conn.Close()
	return Outcome{Result: Success}
}

func itoa(n int) string { return strconv.Itoa(n) }
