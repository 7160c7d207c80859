//go:build linux

package probes

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// dialLoopbackFast opens a probe's TCP connection to an IP address with
// fewer system calls than net.Dialer: a non-blocking socket, connect, and,
// because a connection over loopback is usually complete by the time
// connect returns, a second connect that says so (EISCONN) instead of a
// round through the network poller; then the socket joins the poller as an
// *os.File for the exchange. It skips what net.Dialer adds for long-lived
// connections (TCP_NODELAY, the local and remote address look-ups). ok is
// false when host is not an IP address; the caller dials as usual then.
// Errors read as net.Dial's ("dial tcp 127.0.0.1:8080: connect:
// connection refused").
func dialLoopbackFast(host string, port int, deadline time.Time) (conn *fastConn, ok bool, err error) {
	fd, pending, addr, ok, err := connectFast(host, port)
	if !ok || err != nil {
		return nil, ok, err
	}
	c, err := attach(fd, addr, pending, deadline)
	return c, true, err
}

// connectFast opens a non-blocking socket to host:port and connects it;
// pending says the handshake is still under way. ok is false when host is
// not an IP address.
func connectFast(host string, port int) (fd int, pending bool, addr *net.TCPAddr, ok bool, err error) {
	ip, perr := netip.ParseAddr(host)
	if perr != nil {
		return -1, false, nil, false, nil
	}
	ip = ip.Unmap()
	addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
	fail := func(call string, err error) (int, bool, *net.TCPAddr, bool, error) {
		return -1, false, addr, true, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.NewSyscallError(call, err)}
	}
	family := syscall.AF_INET
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{Port: port, Addr: ip.As4()}
	if ip.Is6() {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: port, Addr: ip.As16()}
	}
	fd, err = syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("socket", err)
	}
	switch err := syscall.Connect(fd, sa); {
	case err == nil:
	case errors.Is(err, syscall.EINPROGRESS), errors.Is(err, syscall.EINTR):
		// Ask again: over loopback the handshake is usually done already.
		switch err := syscall.Connect(fd, sa); {
		case err == nil, errors.Is(err, syscall.EISCONN):
		case errors.Is(err, syscall.EALREADY), errors.Is(err, syscall.EINPROGRESS):
			pending = true
		default:
			syscall.Close(fd)
			return fail("connect", err)
		}
	default:
		syscall.Close(fd)
		return fail("connect", err)
	}
	return fd, pending, addr, true, nil
}

// attach hands a connected (or connecting) socket to the network poller,
// waits for a pending handshake, and sets the deadline of the exchange.
func attach(fd int, addr *net.TCPAddr, pending bool, deadline time.Time) (*fastConn, error) {
	f := os.NewFile(uintptr(fd), "probe") // non-blocking: it joins the poller
	c := &fastConn{f: f, addr: addr}
	if err := f.SetDeadline(deadline); err != nil {
		f.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: err}
	}
	if pending {
		if err := c.awaitConnect(); err != nil {
			f.Close()
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				err = os.NewSyscallError("connect", err)
			}
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: err}
		}
	}
	return c, nil
}

// tcpProbeFast is a TCP probe run to an IP address: connect, then close
// with the kubelet's one-second SO_LINGER (the probe closes first). A
// handshake that is complete at once never touches the poller. ok is
// false when host is not an IP address.
func tcpProbeFast(host string, port int, deadline time.Time) (ok bool, err error) {
	fd, pending, addr, ok, err := connectFast(host, port)
	if !ok || err != nil {
		return ok, err
	}
	if pending {
		c, err := attach(fd, addr, true, deadline)
		if err != nil {
			return true, err
		}
		if rc, err := c.f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { setLinger(int(fd)) })
		}
		c.Close()
		return true, nil
	}
	setLinger(fd)
	syscall.Close(fd)
	return true, nil
}

func setLinger(fd int) {
	_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
}

// fastConn is a probe connection made by dialLoopbackFast.
type fastConn struct {
	f    *os.File
	addr *net.TCPAddr
}

// awaitConnect waits until a pending connect is writable, then reads its
// outcome.
func (c *fastConn) awaitConnect() error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var soErr error
	waited := false
	err = rc.Write(func(fd uintptr) bool {
		if !waited {
			waited = true
			return false // wait for writability first
		}
		n, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		switch {
		case err != nil:
			soErr = err
		case n != 0:
			soErr = syscall.Errno(n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return soErr
}

func (c *fastConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	return n, c.wrap("read", err)
}

func (c *fastConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	return n, c.wrap("write", err)
}

func (c *fastConn) Close() error { return c.f.Close() }

// wrap words an *os.File error as a net.Conn's, keeping io.EOF as it is.
func (c *fastConn) wrap(op string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		inner := pe.Err
		if !errors.Is(inner, os.ErrDeadlineExceeded) {
			inner = os.NewSyscallError(op, inner)
		}
		return &net.OpError{Op: op, Net: "tcp", Addr: c.addr, Err: inner}
	}
	return err
}
