package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/execwire"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// Tokens of the exec tests' opshub.
const (
	execToken = "exec-token-0123456789"
	readToken = "read-token-0123456789"
	depToken  = "deploy-token-0123456789"
)

// execFixture is `opshub run` with the demo service web (one instance, an
// env variable, a volume and a working directory), a job that has ended,
// tokens for each scope and a short idle timeout.
type execFixture struct {
	bin, api, volume, workDir string
	web                       model.Instance // the running instance
	ended                     model.Instance // the ended job's instance
	proc                      *opshubProcess
}

func startExecFixture(t *testing.T) *execFixture {
	t.Helper()
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &execFixture{bin: bin, api: sinktest.FreeAddr(t), volume: filepath.Join(dir, "vol"), workDir: filepath.Join(dir, "work")}
	if err := os.MkdirAll(f.workDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`dataDir: %s
server:
  listen: %q
  tokens:
    - {name: ops, token: %s, scopes: [read, exec]}
    - {name: viewer, token: %s, scopes: [read]}
    - {name: ci, token: %s, scopes: [read, deploy]}
  exec: {idleTimeout: 3s}
workloads:
  - name: web
    project: demo
    command: [%s/opshub-demo, --listen, "127.0.0.1:${PORT}"]
    env: {GREETING: hello}
    workingDir: %s
    volumes: [{name: data, path: %s, capacity: 1Gi}]
    port: %d
    gracePeriod: 2s
  - name: once
    project: demo
    command: [/bin/true]
    restartPolicy: Never
`, filepath.Join(dir, "data"), f.api, execToken, readToken, depToken, bin, f.workDir, f.volume, sinktest.FreePort(t))
	cfgPath := configFile(t, dir, cfg)
	f.proc = startOpshub(t, cfgPath, f.api)
	c := f.client(t, readToken)
	waitUntil(t, 30*time.Second, "web ready and the job ended", func() bool {
		svcs, err := c.Services(context.Background())
		if err != nil {
			return false
		}
		for _, s := range svcs {
			for _, in := range s.Instances {
				switch {
				case s.Name == "web" && in.Ready:
					f.web = in
				case s.Name == "once" && in.Status == model.StatusTerminated:
					f.ended = in
				}
			}
		}
		return f.web.Name != "" && f.ended.Name != ""
	})
	return f
}

func (f *execFixture) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(f.api, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// opshub runs bin/opshub as a user does, with stdin, and returns its exit
// code and output.
func (f *execFixture) opshub(t *testing.T, token, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(f.bin, "opshub"), append([]string{"--server", f.api, "--token", token}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("opshub %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestExecAgainstRun(t *testing.T) {
	f := startExecFixture(t)

	t.Run("runs in the instance's environment and directory", func(t *testing.T) {
		code, out, errOut := f.opshub(t, execToken, "", "exec", "web", "--", "sh", "-c", `echo "$GREETING $PORT $OPSHUB_VOLUME_DATA $OPSHUB_INSTANCE"; pwd`)
		want := fmt.Sprintf("hello %d %s %s\n%s\n", f.web.Port, f.volume, f.web.Name, f.workDir)
		if code != 0 || out != want {
			t.Errorf("exit %d, stdout %q (stderr %q), want 0 and %q", code, out, errOut, want)
		}
	})

	t.Run("keeps stdout and stderr apart and returns the exit code", func(t *testing.T) {
		code, out, errOut := f.opshub(t, execToken, "", "exec", "demo/web", "--instance", f.web.Name, "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 7")
		if code != 7 || out != "to-out\n" || errOut != "to-err\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 7, %q, %q", code, out, errOut, "to-out\n", "to-err\n")
		}
	})

	t.Run("127 for a command not found, 126 for one that cannot run", func(t *testing.T) {
		code, _, errOut := f.opshub(t, execToken, "", "exec", "web", "--", "no-such-program")
		if code != 127 || !strings.Contains(errOut, "no-such-program") {
			t.Errorf("exit %d, stderr %q; want 127 and a message naming the program", code, errOut)
		}
		notExec := filepath.Join(f.volume, "script")
		if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut = f.opshub(t, execToken, "", "exec", "web", "--", notExec)
		if code != 126 {
			t.Errorf("exit %d, stderr %q; want 126 for a file without execute permission", code, errOut)
		}
	})

	t.Run("-i sends stdin and its end", func(t *testing.T) {
		code, out, errOut := f.opshub(t, execToken, "line one\nline two\n", "exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z; echo done")
		if code != 0 || out != "LINE ONE\nLINE TWO\ndone\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("-t gives a terminal that follows the local one's size", func(t *testing.T) {
		testTerminal(t, f)
	})

	t.Run("shell opens a shell on a terminal", func(t *testing.T) {
		cmd, ptmx, screen := f.onTerminal(t, "shell", "web")
		if _, err := io.WriteString(ptmx, "test -t 0 && echo on-a-$(echo terminal); exit 5\r"); err != nil {
			t.Fatal(err)
		}
		screen.waitFor(t, "on-a-terminal")
		if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 5 {
			t.Errorf("opshub shell exited %v, want 5 (the shell's exit)", err)
		}
	})

	t.Run("tokens without the exec scope are refused", func(t *testing.T) {
		for _, token := range []string{readToken, depToken} {
			code, out, errOut := f.opshub(t, token, "", "exec", "web", "--", "echo", "never")
			if code != 1 || out != "" || !strings.Contains(errOut, `lacks the "exec" scope`) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and the scope named", code, out, errOut)
			}
		}
		code, _, errOut := f.opshub(t, "wrong-token", "", "forward", "web", "0:80")
		if code != 1 || !strings.Contains(errOut, "invalid bearer token") {
			t.Errorf("forward with a bad token: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("a page of another site cannot open a session", func(t *testing.T) {
		u := "ws://" + f.api + "/api/v1/services/demo/web/instances/" + f.web.Name + "/exec?command=id"
		opts := func(origin string) *websocket.DialOptions {
			return &websocket.DialOptions{
				Subprotocols: []string{execwire.Subprotocol, execwire.TokenProtocol(execToken)},
				HTTPHeader:   http.Header{"Origin": {origin}},
			}
		}
		c, resp, err := websocket.Dial(context.Background(), u, opts("https://evil.example"))
		if err == nil {
			c.CloseNow()
			t.Fatal("a session from https://evil.example was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site session: %v, want 403", err)
		}
		// The same request from opshub's own page (and the token as a
		// subprotocol, as browsers send it) is served.
		c, _, err = websocket.Dial(context.Background(), u, opts("http://"+f.api))
		if err != nil {
			t.Fatalf("same-origin session: %v", err)
		}
		defer c.CloseNow()
		if c.Subprotocol() != execwire.Subprotocol {
			t.Errorf("subprotocol %q, want %q", c.Subprotocol(), execwire.Subprotocol)
		}
		var got []byte
		for {
			_, msg, err := c.Read(context.Background())
			if err != nil {
				break
			}
			got = append(got, msg...)
		}
		if !bytes.Contains(got, []byte(`{"exitCode":0}`)) {
			t.Errorf("same-origin session sent %q, want an exit status 0", got)
		}
	})

	t.Run("an instance that is not running is a clear error", func(t *testing.T) {
		code, _, errOut := f.opshub(t, execToken, "", "exec", "once", "--instance", f.ended.Name, "--", "true")
		if code != 1 || !strings.Contains(errOut, "instance "+f.ended.Name+" is not running (status Terminated)") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
		code, _, errOut = f.opshub(t, execToken, "", "exec", "once", "--", "true")
		if code != 1 || !strings.Contains(errOut, "no ready instance") {
			t.Errorf("without --instance: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("at most 8 sessions per instance", func(t *testing.T) {
		testSessionLimit(t, f)
	})

	t.Run("an idle session ends", func(t *testing.T) {
		began := time.Now()
		code, _, errOut := f.opshub(t, execToken, "", "exec", "web", "--", "sleep", "60")
		if took := time.Since(began); code != 1 || !strings.Contains(errOut, "idle for 3s") || took > 20*time.Second {
			t.Errorf("exit %d after %s, stderr %q; want 1 after about 3s, naming the idle timeout", code, took, errOut)
		}
	})

	t.Run("forward carries HTTP requests to the demo service", func(t *testing.T) {
		testForward(t, f)
	})

	t.Run("sessions are counted on /metrics", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+f.api+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, re := range []string{
			`opshub_exec_sessions_total\{kind="exec"\} [1-9]`,
			`opshub_exec_sessions_total\{kind="forward"\} [1-9]`,
			`opshub_exec_sessions_refused_total\{kind="exec",reason="limit"\} 1`,
			`opshub_exec_sessions_refused_total\{kind="exec",reason="not_running"\} 1`,
			`opshub_exec_sessions_active\{kind="exec"\} 0`,
		} {
			if !regexp.MustCompile(re).Match(body) {
				t.Errorf("/metrics has no line matching %s", re)
			}
		}
	})
}

// testTerminal runs `opshub exec -it` on a terminal of 30x100, checks the
// command sees that size, resizes the terminal (the kernel sends opshub
// SIGWINCH) and checks the command sees the new size.
func testTerminal(t *testing.T, f *execFixture) {
	cmd, ptmx, screen := f.onTerminal(t, "exec", "-it", "web", "--", "sh", "-c", `stty size; while read line; do [ "$line" = quit ] && exit 4; stty size; done`)
	screen.waitFor(t, "30 100")
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	// The resize travels on its own; each line asks for the size again.
	waitUntil(t, 10*time.Second, "the command to see 40 132", func() bool {
		_, _ = io.WriteString(ptmx, "size\r")
		return strings.Contains(screen.String(), "40 132")
	})
	if _, err := io.WriteString(ptmx, "quit\r"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("opshub exec -it did not end; screen:\n%s", screen.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Errorf("opshub exec -it exited %d, want 4; screen:\n%s", code, screen.String())
	}
}

// testSessionLimit holds 8 sessions open, checks that a 9th is refused, and
// that the 8 end as they should.
func testSessionLimit(t *testing.T, f *execFixture) {
	c := f.client(t, execToken)
	type result struct {
		code int
		out  string
		err  error
	}
	results := make(chan result, 8)
	var writers []*io.PipeWriter
	var opened sync.WaitGroup
	for i := range 8 {
		r, w := io.Pipe()
		writers = append(writers, w)
		var out sinktest.LockedBuffer
		opened.Add(1)
		go func() {
			code, err := c.Exec(context.Background(), client.ExecOptions{
				Project: "demo", Service: "web", Instance: f.web.Name,
				Command: []string{"sh", "-c", "echo open; cat"},
				Stdin:   r, Stdout: &out,
			})
			results <- result{code, out.String(), err}
		}()
		// Wait until the session runs before opening the next.
		waitUntil(t, 10*time.Second, fmt.Sprintf("session %d open", i), func() bool { return strings.Contains(out.String(), "open") })
		opened.Done()
	}
	opened.Wait()
	_, err := c.Exec(context.Background(), client.ExecOptions{Project: "demo", Service: "web", Instance: f.web.Name, Command: []string{"true"}})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || !strings.Contains(apiErr.Message, "8 exec and forward sessions") {
		t.Errorf("9th session: %v, want 429 naming the limit", err)
	}
	for i, w := range writers {
		fmt.Fprintf(w, "bye %d\n", i)
		w.Close()
	}
	for range 8 {
		r := <-results
		if r.err != nil || r.code != 0 || !strings.HasPrefix(r.out, "open\nbye ") {
			t.Errorf("held session: exit %d, %v, output %q", r.code, r.err, r.out)
		}
	}
	// The slots are free again.
	code, err := c.Exec(context.Background(), client.ExecOptions{Project: "demo", Service: "web", Instance: f.web.Name, Command: []string{"true"}})
	if err != nil || code != 0 {
		t.Errorf("a session after the others ended: %d, %v", code, err)
	}
}

// testForward runs `opshub forward web 0:PORT` (the service's port, which
// stands for the instance's own) and sends HTTP requests through it, two at
// once.
func testForward(t *testing.T, f *execFixture) {
	cmd := exec.Command(filepath.Join(f.bin, "opshub"), "--server", f.api, "--token", execToken, "forward", "web", "0:"+strconv.Itoa(f.web.Port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut sinktest.LockedBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading opshub forward's first line: %v (stderr %q)", err, errOut.String())
	}
	addr := regexp.MustCompile(`127\.0\.0\.1:\d+`).FindString(line)
	if addr == "" {
		t.Fatalf("opshub forward printed %q, want the local address", line)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				t.Errorf("GET through the forward: %v (stderr %q)", err, errOut.String())
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if want := "from " + f.web.Name; resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Errorf("GET through the forward: %d %q, want 200 and %q", resp.StatusCode, body, want)
			}
		})
	}
	wg.Wait()
}

// onTerminal starts bin/opshub with the exec token on a new terminal of
// 30 rows and 100 columns, and collects what the terminal shows.
func (f *execFixture) onTerminal(t *testing.T, args ...string) (*exec.Cmd, *os.File, *screenReader) {
	t.Helper()
	cmd := exec.Command(filepath.Join(f.bin, "opshub"), append([]string{"--server", f.api, "--token", execToken}, args...)...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close() })
	screen := &screenReader{}
	go screen.copyFrom(ptmx)
	return cmd, ptmx, screen
}

// screenReader collects what a terminal shows.
type screenReader struct{ sinktest.LockedBuffer }

func (s *screenReader) copyFrom(r io.Reader) { _, _ = io.Copy(&s.LockedBuffer, r) }

func (s *screenReader) waitFor(t *testing.T, text string) {
	t.Helper()
	sinktest.WaitFor(t, 15*time.Second, fmt.Sprintf("the terminal to show %q", text), func() bool { return strings.Contains(s.String(), text) })
}
