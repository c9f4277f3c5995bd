package node

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Who may call the API. Every route names the role it needs
// (apiServer.handle); a request gets through only as a caller whose role
// allows it:
//
//   - over the local unix socket, the caller is the local admin: the
//     socket's mode (0660, root and group shoal) decides who connects,
//     as with Docker's socket;
//   - over TCP (HTTPS), the caller is the API token in
//     "Authorization: Bearer shoal_…", looked up by the hash of its
//     secret in the local replica; a missing, unknown, revoked or expired
//     token is 401, a token whose role is too small 403.
//
// Every write is logged with the caller's name.

// caller is who a request acts as.
type caller struct {
	// Name is the token's name, or "local" on the socket.
	Name string
	Role api.ACLRole
	// Secret is the bearer token as presented, kept in memory for the
	// request only, so that a member forwarding a write can show the
	// leader whom it acts for.
	Secret string
}

// socketCaller is whoever opened the local socket.
var socketCaller = caller{Name: "local", Role: api.ACLAdmin}

type callerKey struct{}

// callerOf returns the caller a request was authenticated as.
func callerOf(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// tokenReader is the part of the store authentication reads.
type tokenReader interface {
	ACLTokenBySecretHash(hash string) (*api.ACLToken, bool)
}

// authenticate says who r acts as on the TCP endpoint, or why it is
// refused (401).
func authenticate(r *http.Request, tokens tokenReader, now time.Time) (caller, *api.Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return caller{}, api.Errorf(api.CodeUnauthorized, "this endpoint needs an API token: send Authorization: Bearer shoal_… (shoal acl token create)")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return caller{}, api.Errorf(api.CodeUnauthorized, "Authorization must be \"Bearer TOKEN\"")
	}
	secret, err := api.ParseAPIToken(secret)
	if err != nil {
		return caller{}, api.Errorf(api.CodeUnauthorized, "%v", err)
	}
	return checkToken(secret, tokens, now)
}

// checkToken looks a token secret up.
func checkToken(secret string, tokens tokenReader, now time.Time) (caller, *api.Error) {
	tok, ok := tokens.ACLTokenBySecretHash(api.SecretHash(secret))
	if !ok {
		return caller{}, api.Errorf(api.CodeUnauthorized, "api token: unknown or revoked")
	}
	if tok.Expired(now) {
		return caller{}, api.Errorf(api.CodeUnauthorized, "api token %s expired at %s", tok.Name, tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return caller{Name: tok.Name, Role: tok.Role, Secret: secret}, nil
}

// authorize refuses a caller whose role does not allow need (403).
func authorize(c caller, need api.ACLRole, r *http.Request) *api.Error {
	if c.Role.Allows(need) {
		return nil
	}
	return api.Errorf(api.CodeForbidden, "token %s (role %s) may not %s %s: that needs role %s", c.Name, c.Role, r.Method, r.URL.Path, need)
}

// guard authenticates and authorizes a request for a route that needs
// role need, refuses what only a browser sends (checkBrowser), logs
// writes, and runs next as the caller.
func (s *apiServer) guard(need api.ACLRole, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := socketCaller
		if endpointOf(r.Context()) != endpointSocket {
			var err *api.Error
			if c, err = authenticate(r, s.view(), time.Now()); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shoal"`)
				writeError(w, err)
				return
			}
		}
		if err := authorize(c, need, r); err != nil {
			writeError(w, err)
			return
		}
		if err := checkBrowser(r, s.backend.apiDNSNames); err != nil {
			writeError(w, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.log.Info("api write", "caller", c.Name, "method", r.Method, "path", r.URL.Path, "status", sw.code)
	})
}

// view is the local replica's current view.
func (s *apiServer) view() *state.View { return s.backend.view() }
