package sinktest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// VictoriaLogs is a running VictoriaLogs server. It receives Loki pushes at
// URL+"/insert/loki/api/v1/push" and Elasticsearch bulk requests at
// URL+"/insert/elasticsearch/_bulk".
type VictoriaLogs struct {
	URL  string
	addr string
	dir  string
	bin  string
	proc *process
}

// StartVictoriaLogs starts VictoriaLogs in a temporary directory; it stops
// when the test ends.
func StartVictoriaLogs(t testing.TB) *VictoriaLogs {
	t.Helper()
	v := &VictoriaLogs{
		bin: Binary(t, "victoria-logs", "run `make tools` to build it"),
		dir: t.TempDir(),
	}
	v.start(t)
	v.URL = "http://" + v.addr
	return v
}

// Start starts the server again after Stop, on the same port and data.
func (v *VictoriaLogs) Start(t testing.TB) {
	t.Helper()
	v.start(t)
}

// start starts the server on v.addr, or on a free port when it has none.
func (v *VictoriaLogs) start(t testing.TB) {
	t.Helper()
	command := func(addr string) *exec.Cmd {
		return exec.Command(v.bin, "-storageDataPath="+v.dir, "-httpListenAddr="+addr,
			"-loggerLevel=WARN", "-inmemoryDataFlushInterval=1s")
	}
	v.proc, v.addr = startListening(t, "victoria-logs", v.addr, 30*time.Second, command, func(_ *process, addr string) bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Stop stops the server; its data stays for Start.
func (v *VictoriaLogs) Stop(t testing.TB) {
	t.Helper()
	if v.proc != nil {
		v.proc.stop(t)
	}
}

// Query runs a LogsQL query over all time and returns the rows, each a map
// of field name to value (_msg, _time, _stream and the record's fields).
func (v *VictoriaLogs) Query(t testing.TB, query string, headers map[string]string) []map[string]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.URL+"/select/logsql/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("victorialogs query %q: %v", query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("victorialogs query %q: %s: %s", query, resp.Status, body)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		row := map[string]string{}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("victorialogs query %q: row %q: %v", query, sc.Bytes(), err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("victorialogs query %q: %v", query, err)
	}
	return rows
}

// Count returns how many log entries match the LogsQL filter.
func (v *VictoriaLogs) Count(t testing.TB, filter string, headers map[string]string) int {
	t.Helper()
	rows := v.Query(t, filter+" | stats count() as n", headers)
	if len(rows) == 0 {
		return 0
	}
	n, err := strconv.Atoi(rows[0]["n"])
	if err != nil {
		t.Fatalf("victorialogs count %q: %v", filter, err)
	}
	return n
}

// WaitRows polls the LogsQL query until it returns want rows and returns
// them; it fails the test with the last count when the deadline passes or
// more rows than wanted arrive. Rows become searchable a little after they
// are ingested, and plain row queries see them later than stats queries.
func (v *VictoriaLogs) WaitRows(t testing.TB, query string, headers map[string]string, want int, timeout time.Duration) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rows := v.Query(t, query, headers)
		if len(rows) == want {
			return rows
		}
		if len(rows) > want || time.Now().After(deadline) {
			t.Fatalf("%s: query %q: %d rows, want %d", v, query, len(rows), want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// String names the server in messages.
func (v *VictoriaLogs) String() string { return fmt.Sprintf("victorialogs at %s", v.URL) }

// Output is what the server has logged so far, for failure messages.
func (v *VictoriaLogs) Output() string { return v.proc.out.String() }
