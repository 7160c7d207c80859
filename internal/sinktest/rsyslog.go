package sinktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RsyslogFields is the output template of the rsyslog the tests start: one
// line per message received, with the parsed fields separated by '|'.
const RsyslogFields = "severity|facility|app-name|hostname|msgid|structured-data|msg"

// Rsyslog is a running rsyslogd that listens on Addr and writes every
// message it receives to a file, one line each, as RsyslogFields says.
type Rsyslog struct {
	Addr string
	// CAFile is the PEM certificate that signed the server's certificate
	// when the server speaks TLS.
	CAFile string
	file   string
	proc   *process
}

// StartRsyslog starts rsyslogd in a temporary directory, on TCP, or on TLS
// (RFC 5425) with a certificate made for 127.0.0.1. It stops when the test
// ends.
func StartRsyslog(t testing.TB, withTLS bool) *Rsyslog {
	t.Helper()
	bin := Binary(t, "rsyslogd", "install the Debian packages rsyslog and rsyslog-gnutls (.ci/deps.d/sinks.sh)")
	dir := t.TempDir()
	r := &Rsyslog{file: filepath.Join(dir, "received.log")}
	global := fmt.Sprintf(`global(workDirectory=%q)`, dir)
	module := `module(load="imtcp")`
	if withTLS {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			Missing(t, "rsyslog's TLS driver is not installed; install the Debian package rsyslog-gnutls (.ci/deps.d/sinks.sh)")
		}
		authority := NewCA(t, dir)
		cert, key := authority.Server("server")
		ca := authority.File
		r.CAFile = ca
		global = fmt.Sprintf(`global(workDirectory=%q defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)`, dir, ca, cert, key)
		module = `module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")`
	}
	command := func(addr string) *exec.Cmd {
		_, port, _ := net.SplitHostPort(addr)
		conf := strings.Join([]string{
			global,
			module,
			`template(name="fields" type="string" string="%syslogseverity%|%syslogfacility-text%|%app-name%|%hostname%|%msgid%|%structured-data%|%msg%\n")`,
			fmt.Sprintf(`input(type="imtcp" address="127.0.0.1" port=%q)`, port),
			fmt.Sprintf(`action(type="omfile" file=%q template="fields")`, r.file),
			"",
		}, "\n")
		confFile := filepath.Join(dir, "rsyslog.conf")
		if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command(bin, "-n", "-f", confFile, "-i", filepath.Join(dir, "rsyslogd.pid"))
	}
	r.proc, r.Addr = startListening(t, "rsyslogd", "", 15*time.Second, command, func(_ *process, addr string) bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return r
}

// WaitLines polls the output file until it holds n lines and returns them;
// it fails the test when the deadline passes or more arrive.
func (r *Rsyslog) WaitLines(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(r.file)
		var lines []string
		if len(b) > 0 {
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
		if len(lines) == n {
			return lines
		}
		if len(lines) > n || time.Now().After(deadline) {
			t.Fatalf("rsyslog wrote %d lines, want %d; its output:\n%s", len(lines), n, r.proc.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops rsyslogd, closing every connection to it.
func (r *Rsyslog) Stop(t testing.TB) { r.proc.stop(t) }
