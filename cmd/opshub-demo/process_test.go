//go:build unix

package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// These tests build the real binary and run it, for what only a process
// can show: exit codes, signals, and death by signal.

// process is a running opshub-demo binary with its output captured.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error // from Wait, once done is closed
}

// demoEnv is the test's environment without anything the demo reads, so
// that the caller's PORT or DEMO_* cannot change what a test sees.
func demoEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PORT" || k == "GREETING" || strings.HasPrefix(k, "DEMO_") || strings.HasPrefix(k, "OPSHUB_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{
		cmd:    exec.Command(bin, args...),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Env = demoEnv("OPSHUB_INSTANCE=proc-1")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		p.err = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

var listeningOn = regexp.MustCompile(`listening on (\S+)`)

// addr waits for the start-up line and returns the address in it.
func (p *process) addr(t *testing.T) string {
	t.Helper()
	var addr string
	sinktest.WaitFor(t, 10*time.Second, "the start-up line", func() bool {
		if m := listeningOn.FindStringSubmatch(p.stdout.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}

// wait waits for the process to end and returns its wait status.
func (p *process) wait(t *testing.T) syscall.WaitStatus {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("process did not end; stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatalf("wait: %v", p.err)
	}
	return p.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func buildDemo(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// go test puts its own toolchain first on PATH.
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "opshub-demo")
	out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestProcess(t *testing.T) {
	bin := buildDemo(t)

	t.Run("exit-after exits with the code", func(t *testing.T) {
		p := startProcess(t, bin, "--listen", "127.0.0.1:0", "--exit-after", "100ms", "--exit-code", "3")
		ws := p.wait(t)
		if !ws.Exited() || ws.ExitStatus() != 3 {
			t.Errorf("wait status %v, want exit status 3", ws)
		}
		if !strings.Contains(p.stderr.String(), "exiting with code 3\n") {
			t.Errorf("stderr %q", p.stderr)
		}
	})

	t.Run("no-http runs without a listener", func(t *testing.T) {
		p := startProcess(t, bin, "--no-http", "--exit-after", "50ms")
		if ws := p.wait(t); !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("wait status %v, want exit status 0", ws)
		}
		if !strings.HasPrefix(p.stdout.String(), "opshub-demo proc-1 running without HTTP (") {
			t.Errorf("stdout %q", p.stdout)
		}
	})

	t.Run("SIGTERM shuts down with status 0", func(t *testing.T) {
		p := startProcess(t, bin, "--listen", "127.0.0.1:0", "--log-rate", "1000")
		p.addr(t)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if ws := p.wait(t); !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("wait status %v, want exit status 0", ws)
		}
		if !strings.Contains(p.stderr.String(), "received SIGTERM, shutting down\n") {
			t.Errorf("stderr %q", p.stderr)
		}
		checkSeq(t, numbered(p.stdout.lines()), 1, uint64(len(numbered(p.stdout.lines()))))
	})

	t.Run("ignore-sigterm survives SIGTERM", func(t *testing.T) {
		p := startProcess(t, bin, "--listen", "127.0.0.1:0", "--ignore-sigterm")
		addr := p.addr(t)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		sinktest.WaitFor(t, 10*time.Second, "SIGTERM to be reported", func() bool {
			return strings.Contains(p.stderr.String(), "received SIGTERM, ignoring it")
		})
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !p.running() {
			t.Fatalf("after SIGTERM: status %d, running %v", resp.StatusCode, p.running())
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if ws := p.wait(t); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("wait status %v, want killed by SIGKILL", ws)
		}
	})

	t.Run("exit= replies, then exits", func(t *testing.T) {
		p := startProcess(t, bin, "--listen", "127.0.0.1:0")
		resp, err := http.Post("http://"+p.addr(t)+"/control?exit=5", "", nil)
		if err != nil {
			t.Fatalf("POST /control?exit=5: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("POST /control?exit=5: %d", resp.StatusCode)
		}
		if ws := p.wait(t); !ws.Exited() || ws.ExitStatus() != 5 {
			t.Errorf("wait status %v, want exit status 5", ws)
		}
	})

	crashes := []syscall.Signal{syscall.SIGABRT, syscall.SIGKILL, syscall.SIGTERM}
	if runtime.GOOS == "linux" {
		// Only on Linux is the runtime's handler replaced, so that a
		// signal Go would swallow still kills.
		crashes = append(crashes, syscall.SIGSEGV)
	}
	for _, sig := range crashes {
		t.Run("crash-signal "+signalName(sig), func(t *testing.T) {
			p := startProcess(t, bin, "--no-http", "--exit-after", "10ms", "--crash-signal", signalName(sig))
			if ws := p.wait(t); !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("wait status %v (%v), want killed by %v; stderr:\n%s", ws, p.err, sig, truncate(p.stderr.String()))
			}
			if !strings.Contains(p.stderr.String(), "crashing with signal "+signalName(sig)) {
				t.Errorf("stderr %q", truncate(p.stderr.String()))
			}
		})
	}
}
