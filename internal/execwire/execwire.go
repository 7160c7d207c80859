// Package execwire is the wire format of opshub's exec and forward
// WebSocket sessions, shared by the server and the client so that both
// speak exactly what SPEC.md fixes. It holds names and framing only.
package execwire

import "encoding/base64"

// Subprotocol is the WebSocket subprotocol of an exec session.
const Subprotocol = "opshub.exec.v1"

// Stream ids: the first byte of every binary message of an exec session.
const (
	Stdin  byte = 0 // client to server; an empty payload closes stdin
	Stdout byte = 1 // server to client; with a TTY, the terminal's output
	Stderr byte = 2 // server to client
	Exit   byte = 3 // server to client, last: ExitStatus as JSON
	Resize byte = 4 // client to server: TermSize as JSON
)

// ExitStatus is the payload of the Exit stream.
type ExitStatus struct {
	ExitCode int `json:"exitCode"`
}

// TermSize is the payload of the Resize stream.
type TermSize struct {
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

// TokenProtocolPrefix starts a subprotocol that carries a bearer token,
// base64url-encoded without padding, for clients that cannot send an
// Authorization header with a WebSocket (browsers). The server never
// selects it.
const TokenProtocolPrefix = "opshub.token."

// TokenProtocol returns the subprotocol that carries token.
func TokenProtocol(token string) string {
	return TokenProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte(token))
}

// TokenFromProtocol decodes the token of a TokenProtocol value.
func TokenFromProtocol(p string) (string, bool) {
	if len(p) <= len(TokenProtocolPrefix) || p[:len(TokenProtocolPrefix)] != TokenProtocolPrefix {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(p[len(TokenProtocolPrefix):])
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Frame prefixes p with a stream id.
func Frame(stream byte, p []byte) []byte {
	out := make([]byte, 1+len(p))
	out[0] = stream
	copy(out[1:], p)
	return out
}
