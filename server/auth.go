package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// Scope is a permission a token grants.
type Scope string

// The scopes a token may hold. Admin implies every other scope.
const (
	ScopeRead   Scope = "read"
	ScopeDeploy Scope = "deploy"
	ScopeAdmin  Scope = "admin"
	ScopeExec   Scope = "exec"
)

// Token is one bearer token the API accepts.
type Token struct {
	Name   string
	Value  string
	Scopes []Scope
}

// authenticator decides who a request comes from and what it may do.
type authenticator struct {
	tokens []hashedToken
}

type hashedToken struct {
	name   string
	sum    [sha256.Size]byte
	scopes map[Scope]bool
}

func newAuthenticator(tokens []Token) *authenticator {
	a := &authenticator{}
	for _, t := range tokens {
		h := hashedToken{name: t.Name, sum: sha256.Sum256([]byte(t.Value)), scopes: map[Scope]bool{}}
		for _, s := range t.Scopes {
			h.scopes[s] = true
		}
		a.tokens = append(a.tokens, h)
	}
	return a
}

// authResult is what authorize found out about a request.
type authResult int

const (
	authOK authResult = iota
	authMissing
	authInvalid
	authForbidden
	authNotLoopback
)

// authorize checks that the request may use something that needs scope.
// Tokens are compared through their SHA-256 sums in constant time, and every
// configured token is compared so timing does not tell which one matched.
func (a *authenticator) authorize(r *http.Request, scope Scope) (authResult, string) {
	if len(a.tokens) == 0 {
		if isLoopback(r.RemoteAddr) {
			return authOK, "loopback"
		}
		return authNotLoopback, ""
	}
	raw, ok := bearer(r)
	if !ok {
		return authMissing, ""
	}
	sum := sha256.Sum256([]byte(raw))
	var match *hashedToken
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			match = &a.tokens[i]
		}
	}
	if match == nil {
		return authInvalid, ""
	}
	if !match.scopes[scope] && !match.scopes[ScopeAdmin] {
		return authForbidden, match.name
	}
	return authOK, match.name
}

func bearer(r *http.Request) (string, bool) {
	if t, ok := websocketToken(r); ok {
		return t, true
	}
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
