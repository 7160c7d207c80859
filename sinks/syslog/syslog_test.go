package syslog

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func newFromYAML(t *testing.T, raw string) *Destination {
	return plugintest.NewSink(t, Plugin, sinks.Spec{Name: "papertrail", Type: "syslog"}, raw).(*Destination)
}

var t0 = time.Date(2026, 11, 24, 4, 0, 0, 123456789, time.UTC)

func record(i int, stream string) model.LogRecord {
	return model.LogRecord{
		Time:   t0.Add(time.Duration(i) * time.Millisecond),
		Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c-1", Container: "app"},
		Stream: stream,
		Log:    fmt.Sprintf("line %05d said \"hi\" ]", i),
	}
}

func TestFormatRFC5424(t *testing.T) {
	tests := []struct {
		name string
		f    formatter
		rec  model.LogRecord
		want string
	}{
		{
			name: "stdout is info, service is APP-NAME, names in structured data",
			f:    formatter{facility: 1, hostname: "node-1"},
			rec:  record(0, "stdout"),
			want: `<14>1 2026-11-24T04:00:00.123456Z node-1 web - stdout [opshub@32473 project="demo" service="web" instance="web-7f9c-1" container="app"] line 00000 said "hi" ]`,
		},
		{
			name: "stderr is error, facility local0, app name configured",
			f:    formatter{facility: 16, hostname: "node-1", appName: "shop"},
			rec:  record(1, "stderr"),
			want: `<131>1 2026-11-24T04:00:00.124456Z node-1 shop - stderr [opshub@32473 project="demo" service="web" instance="web-7f9c-1" container="app"] line 00001 said "hi" ]`,
		},
		{
			name: "values escaped, spaces dropped from header fields, nothing empty",
			f:    formatter{facility: 1, hostname: ""},
			rec:  model.LogRecord{Time: t0, Ref: model.Ref{Project: `a"b]c\d`, Service: "my app"}, Stream: "stdout"},
			want: `<14>1 2026-11-24T04:00:00.123456Z - myapp - stdout [opshub@32473 project="a\"b\]c\\d" service="my app"]`,
		},
		{
			name: "rfc3164 on one line",
			f:    formatter{facility: 1, hostname: "node-1", rfc3164: true},
			rec:  model.LogRecord{Time: t0, Ref: model.Ref{Service: "web"}, Stream: "stderr", Log: "two\nlines"},
			want: `<11>Nov 24 04:00:00 node-1 web: two lines`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.f.appendMessage(nil, &tt.rec)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestRsyslogReceivesEveryMessage sends octet-counted RFC 5424 messages to a
// real rsyslogd, over TCP and over TLS, and checks what it parsed.
func TestRsyslogReceivesEveryMessage(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		name := "tcp"
		if withTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			rs := sinktest.StartRsyslog(t, withTLS)
			raw := "address: " + rs.Addr
			if withTLS {
				raw += "\ntls: {caFile: " + rs.CAFile + "}"
			}
			d := newFromYAML(t, raw)
			const n, batch = 2000, 500
			for start := 0; start < n; start += batch {
				var recs []model.LogRecord
				for i := start; i < start+batch; i++ {
					stream := "stdout"
					if i%10 == 0 {
						stream = "stderr"
					}
					recs = append(recs, record(i, stream))
				}
				if err := d.Deliver(context.Background(), recs); err != nil {
					t.Fatalf("Deliver: %v", err)
				}
			}
			lines := rs.WaitLines(t, n, 20*time.Second)
			host, _ := os.Hostname()
			for i, line := range lines {
				f := strings.SplitN(line, "|", 7)
				severity, stream := "6", "stdout"
				if i%10 == 0 {
					severity, stream = "3", "stderr"
				}
				want := []string{severity, "user", "web", host, stream,
					`[opshub@32473 project="demo" service="web" instance="web-7f9c-1" container="app"]`,
					fmt.Sprintf(`line %05d said "hi" ]`, i)}
				if len(f) != 7 || strings.Join(f[:6], "|") != strings.Join(want[:6], "|") || strings.TrimSpace(f[6]) != want[6] {
					t.Fatalf("message %d: rsyslog parsed\n  %s\nwant fields (%s)\n  %s", i, line, sinktest.RsyslogFields, strings.Join(want, "|"))
				}
			}
		})
	}
}

// TestDeliverReconnectsAfterTheReceiverRestarts checks that a batch written
// after the receiver went away is reported as retryable, not lost.
func TestDeliverReconnectsAfterTheReceiverRestarts(t *testing.T) {
	rs := sinktest.StartRsyslog(t, false)
	d := newFromYAML(t, "address: "+rs.Addr)
	if err := d.Deliver(context.Background(), []model.LogRecord{record(0, "stdout")}); err != nil {
		t.Fatal(err)
	}
	rs.WaitLines(t, 1, 10*time.Second)
	rs.Stop(t)
	err := d.Deliver(context.Background(), []model.LogRecord{record(1, "stdout")})
	if !sinks.IsRetryable(err) {
		t.Fatalf("Deliver after the receiver stopped = %v, want a retryable error", err)
	}
}

func TestSettingsRefuseBadKeys(t *testing.T) {
	plugintest.CheckRefusals(t, Plugin.Settings, []plugintest.Refusal{
		{Name: "no port", Keys: "address: logs.example.com", Want: "host:port"},
		{Name: "tls settings on plain tcp", Keys: "address: a:1\nnetwork: tcp\ntls: {insecureSkipVerify: true}", Want: "network is tcp"},
		{Name: "unknown facility", Keys: "address: a:1\nfacility: local9", Want: "facility"},
	})
}

func TestDeliverOverUDPSendsOneDatagramPerMessage(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	d := newFromYAML(t, "address: "+pc.LocalAddr().String()+"\nnetwork: udp\nfacility: local7")
	recs := []model.LogRecord{record(0, "stdout"), record(1, "stderr"), record(2, "stdout")}
	if err := d.Deliver(context.Background(), recs); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	buf := make([]byte, 70000)
	for i, wantPRI := range []string{"<190>1 ", "<187>1 ", "<190>1 "} {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, wantPRI) || !strings.HasSuffix(got, fmt.Sprintf(`line %05d said "hi" ]`, i)) {
			t.Errorf("datagram %d = %q, want one unframed message starting %q", i, got, wantPRI)
		}
	}
}
