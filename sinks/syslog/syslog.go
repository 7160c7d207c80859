package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// maxDatagram bounds one UDP message; longer ones are cut (RFC 5426 asks
// receivers to take at least 2048 bytes, and most take far more).
const maxDatagram = 64 * 1024

// Destination writes batches to one syslog receiver over one connection.
type Destination struct {
	cfg     Config
	fmt     formatter
	tlsConf *tls.Config
	logger  *slog.Logger

	mu     sync.Mutex // serialises Deliver, guards conn and buf
	conn   net.Conn
	buf    []byte // one batch, framed
	msg    []byte // one message
	closed bool
}

var _ sinks.Destination = (*Destination)(nil)

// New builds a syslog destination from the sink's spec. It does not
// connect: the first Deliver does.
func New(spec sinks.Spec) (sinks.Destination, error) {
	cfg, err := sinks.ConfigOf[Config](spec)
	if err != nil {
		return nil, err
	}
	cfg.Network = cfg.network()
	hostname, _ := os.Hostname()
	d := &Destination{
		cfg: cfg,
		fmt: formatter{facility: facilities[cfg.Facility], rfc3164: cfg.Format == "rfc3164", hostname: hostname, appName: cfg.AppName},
	}
	if cfg.Network == "tls" {
		if d.tlsConf, err = outbound.NewTLSConfig(cfg.TLS); err != nil {
			return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
		}
		if d.tlsConf.ServerName == "" {
			d.tlsConf.ServerName, _, _ = net.SplitHostPort(cfg.Address)
		}
	}
	d.logger = spec.DestinationLogger("syslog")
	return d, nil
}

// Deliver writes records as one run of framed messages. Any failure to
// connect or write is a *sinks.RetryableError for the whole batch, and the
// connection is dropped so that the next attempt dials again.
func (d *Destination) Deliver(ctx context.Context, records []model.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("syslog: destination closed")
	}
	if d.conn != nil && !d.alive() {
		d.drop()
	}
	if d.conn == nil {
		conn, err := d.dial(ctx)
		if err != nil {
			return &sinks.RetryableError{Err: fmt.Errorf("syslog %s: connect: %w", d.cfg.Address, err)}
		}
		d.conn = conn
	}
	deadline := time.Now().Add(time.Duration(d.cfg.Timeout))
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = d.conn.SetWriteDeadline(deadline)
	var err error
	if d.cfg.Network == "udp" {
		err = d.writeDatagrams(records)
	} else {
		err = d.writeStream(records)
	}
	if err != nil {
		d.drop()
		return &sinks.RetryableError{Err: fmt.Errorf("syslog %s: write: %w", d.cfg.Address, err)}
	}
	return nil
}

// writeStream writes the batch in one write: octet-counted RFC 5424
// messages, or newline-terminated RFC 3164 ones.
func (d *Destination) writeStream(records []model.LogRecord) error {
	b := d.buf[:0]
	for i := range records {
		if d.fmt.rfc3164 {
			b = d.fmt.appendMessage(b, &records[i])
			b = append(b, '\n')
			continue
		}
		d.msg = d.fmt.appendMessage(d.msg[:0], &records[i])
		b = strconv.AppendInt(b, int64(len(d.msg)), 10)
		b = append(b, ' ')
		b = append(b, d.msg...)
	}
	d.buf = b
	_, err := d.conn.Write(b)
	return err
}

func (d *Destination) writeDatagrams(records []model.LogRecord) error {
	for i := range records {
		b := d.fmt.appendMessage(d.buf[:0], &records[i])
		if len(b) > maxDatagram {
			b = b[:maxDatagram]
		}
		d.buf = b
		if _, err := d.conn.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (d *Destination) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(d.cfg.Timeout))
	defer cancel()
	switch d.cfg.Network {
	case "tls":
		dialer := &tls.Dialer{Config: d.tlsConf}
		return dialer.DialContext(ctx, "tcp", d.cfg.Address)
	default:
		var dialer net.Dialer
		return dialer.DialContext(ctx, d.cfg.Network, d.cfg.Address)
	}
}

// alive reports whether the receiver still holds the connection open. A
// syslog receiver never writes, so a read that does not time out at once
// means it closed the connection; writing would then lose the first batch
// into the kernel's buffer.
func (d *Destination) alive() bool {
	if d.cfg.Network == "udp" {
		return true
	}
	_ = d.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var one [1]byte
	_, err := d.conn.Read(one[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (d *Destination) drop() {
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
}

// Close closes the connection. It is safe to call more than once.
func (d *Destination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.drop()
	return nil
}
