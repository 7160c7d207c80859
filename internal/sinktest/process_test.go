package sinktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStartListeningTriesAnotherPortWhenItsPortIsTaken plays a parallel
// test taking the port FreeAddr found free before the server binds it: the
// server says its address is in use, and it is started again on another
// port instead of failing the test.
func TestStartListeningTriesAnotherPortWhenItsPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	picks := 0
	freeAddr = func(t testing.TB) string {
		if picks++; picks == 1 {
			return taken.Addr().String()
		}
		return FreeAddr(t)
	}
	defer func() { freeAddr = FreeAddr }()

	p, addr := startListening(t, "listener", "", 20*time.Second, func(addr string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestListenerProcess$")
		cmd.Env = append(os.Environ(), "SINKTEST_LISTEN="+addr)
		return cmd
	}, func(p *process, addr string) bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return strings.Contains(p.out.String(), "listening on "+addr)
	})
	if addr == taken.Addr().String() || picks != 2 || p.exited() {
		t.Fatalf("server on %s after %d picks (exited %v), want it running on a second address", addr, picks, p.exited())
	}
}

// TestListenerProcess is the server of the test above when run with
// SINKTEST_LISTEN: it listens there, or says why not and exits.
func TestListenerProcess(t *testing.T) {
	addr := os.Getenv("SINKTEST_LISTEN")
	if addr == "" {
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("listening on", addr)
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(0)
		}
		c.Close()
	}
}
