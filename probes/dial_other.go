//go:build !linux

package probes

import (
	"errors"
	"time"
)

// fastConn exists on Linux only (dial_linux.go); elsewhere probes dial
// through net.Dialer.
type fastConn struct{}

func dialLoopbackFast(string, int, time.Time) (*fastConn, bool, error) { return nil, false, nil }

func tcpProbeFast(string, int, time.Time) (bool, error) { return false, nil }

func (*fastConn) Read([]byte) (int, error)  { return 0, errors.ErrUnsupported }
func (*fastConn) Write([]byte) (int, error) { return 0, errors.ErrUnsupported }
func (*fastConn) Close() error              { return nil }
