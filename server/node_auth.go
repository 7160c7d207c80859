package server

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// TokenReviewer authenticates bearer tokens the server holds no list of: on
// a collector, the API server's TokenReview, allowing the controller's
// identities (platform/kubernetes.TokenReviewer).
//
// Callers may rely on: Review returns the identity of a token the issuer
// vouches for ("" when none does), whether it may read, and an error only
// when the answer could not be had.
type TokenReviewer interface {
	Review(ctx context.Context, token string) (identity string, allowed bool, err error)
}

// reviewTimeout bounds one token review.
const reviewTimeout = 5 * time.Second

// authorizeReviewed serves loopback clients, and others whose token the
// reviewer allows. Reviewed identities may only read.
func (s *Server) authorizeReviewed(scope Scope, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isLoopback(r.RemoteAddr) {
			h(w, r)
			return
		}
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="opshub"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token", "")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), reviewTimeout)
		identity, allowed, err := s.opts.TokenReviewer.Review(ctx, token)
		cancel()
		switch {
		case err != nil:
			s.log.Warn("token review failed", "err", err)
			writeError(w, http.StatusServiceUnavailable, "cannot verify the bearer token now: "+err.Error(), "")
		case identity == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="opshub", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid bearer token", "")
		case !allowed:
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s is not one of platform.controllerIdentities", identity), "")
		case scope != ScopeRead:
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s may only read", identity), "")
		default:
			h(w, r)
		}
	})
}
