package sinktest

import (
	_ "embed"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

//go:embed testdata/smtpserver.py
var smtpServerScript []byte

// SMTPOptions say how the SMTP server StartSMTP runs behaves.
type SMTPOptions struct {
	// Addr is the loopback host:port to listen on; empty picks a free one.
	// A server started again on the same Addr plays a server that was down.
	Addr string
	// TLS offers STARTTLS with a certificate for 127.0.0.1 signed by a test
	// CA (SMTP.CAFile) and refuses mail before it.
	TLS bool
	// ImplicitTLS speaks TLS from the first byte (as on port 465) instead
	// of offering STARTTLS; it implies TLS.
	ImplicitTLS bool
	// ClientCerts, with TLS, asks for a client certificate and refuses a
	// session without one that SMTP.CA issued.
	ClientCerts bool
	// Users are the accounts AUTH PLAIN, LOGIN and CRAM-MD5 accept, name to
	// password; when set, mail is refused before AUTH.
	Users map[string]string
	// FailFirst answers the first FailFirst DATA commands with FailReply
	// ("451 4.3.0 Try again later" unless set).
	FailFirst int
	FailReply string
	// Reject answers every DATA command with this reply ("550 5.1.1 …").
	Reject string
}

// SMTP is a running SMTP server (Python's aiosmtpd) that keeps every
// message it accepts.
type SMTP struct {
	Addr string
	// CAFile is the PEM certificate that signed the server's certificate;
	// CA issues client certificates the server accepts.
	CAFile string
	CA     *CA
	dir    string
	proc   *process
}

// Mail is one message the server accepted.
type Mail struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	// TLS tells whether the session was encrypted, User who authenticated.
	TLS  bool   `json:"tls"`
	User string `json:"user"`
	// Data is the message as it was sent (headers and body).
	Data string `json:"data"`
}

// StartSMTP starts the SMTP server in a temporary directory; it stops when
// the test ends. Without Python's aiosmtpd (Debian python3-aiosmtpd) the
// test skips outside CI and fails in CI.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	py := pythonWith(t, "aiosmtpd", "install the Debian package python3-aiosmtpd (.ci/deps.d/email.sh)")
	dir := t.TempDir()
	script := filepath.Join(dir, "smtpserver.py")
	if err := os.WriteFile(script, smtpServerScript, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &SMTP{Addr: o.Addr, dir: filepath.Join(dir, "mail")}
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{script, "--dir", s.dir}
	if o.TLS || o.ImplicitTLS {
		s.CA = NewCA(t, dir)
		s.CAFile = s.CA.File
		cert, key := s.CA.Server("smtp")
		args = append(args, "--cert", cert, "--key", key)
		if o.ImplicitTLS {
			args = append(args, "--implicit")
		}
		if o.ClientCerts {
			args = append(args, "--client-ca", s.CAFile)
		}
	}
	for name, pass := range o.Users {
		args = append(args, "--user", name+":"+pass)
	}
	if o.FailFirst > 0 {
		args = append(args, "--fail-first", strconv.Itoa(o.FailFirst))
	}
	if o.FailReply != "" {
		args = append(args, "--fail-reply", o.FailReply)
	}
	if o.Reject != "" {
		args = append(args, "--reject", o.Reject)
	}
	command := func(addr string) *exec.Cmd {
		_, port, _ := net.SplitHostPort(addr)
		return exec.Command(py, append(args, "--port", port)...)
	}
	s.proc, s.Addr = startListening(t, "aiosmtpd", o.Addr, 15*time.Second, command, func(p *process, addr string) bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return strings.Contains(p.out.String(), "listening on")
	})
	return s
}

// Messages returns the messages accepted so far, oldest first.
func (s *SMTP) Messages(t testing.TB) []Mail {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(s.dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	out := make([]Mail, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var m Mail
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out = append(out, m)
	}
	return out
}

// WaitMessages polls until the server holds n messages and returns them; it
// fails the test when the deadline passes or more arrive.
func (s *SMTP) WaitMessages(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := s.Messages(t)
		if len(ms) == n {
			return ms
		}
		if len(ms) > n || time.Now().After(deadline) {
			t.Fatalf("the SMTP server accepted %d messages, want %d; its output:\n%s", len(ms), n, s.proc.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DataCommands is how many DATA commands the server answered, accepted
// or not.
func (s *SMTP) DataCommands(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "attempts.log"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// Output is what the server printed, for failure messages.
func (s *SMTP) Output() string { return s.proc.out.String() }

// Stop stops the server.
func (s *SMTP) Stop(t testing.TB) { s.proc.stop(t) }

// pythonWith finds a Python 3 that can import module: the system's first
// (Debian packages install there), then the one on PATH.
func pythonWith(t testing.TB, module, how string) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import "+module).Run() == nil {
			return py
		}
	}
	Missing(t, "Python's "+module+" is not installed; "+how)
	return ""
}
