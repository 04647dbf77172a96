// Package httpauth identifies the caller of an HTTP request — a session
// cookie or an API token — and guards forms against cross-site request
// forgery. The web portal and the JSON API share it, so both authenticate and
// authorise exactly alike.
package httpauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Cookie names.
const (
	SessionCookie = "caregate_session"
	AnonCookie    = "caregate_anon" // binds the CSRF token of signed-out forms
)

// Caller is what a request is known to be.
type Caller struct {
	Principal *authz.Principal // set when fully signed in
	Session   *auth.Session    // set for any session, even mid sign-in
	User      *auth.User       // the session's or token's user
	Token     string           // the raw session token
	anon      string           // the anonymous cookie value
	IP        string
	UserAgent string
}

// Who returns the audit identity of the caller.
func (c *Caller) Who() audit.Who {
	w := audit.Who{IP: c.IP, UserAgent: c.UserAgent}
	if c.User != nil {
		w.UserID, w.Email = c.User.ID, c.User.Email
	}
	return w
}

type ctxKey struct{}

// From returns the caller of a request (never nil inside Identify).
func From(ctx context.Context) *Caller {
	c, _ := ctx.Value(ctxKey{}).(*Caller)
	if c == nil {
		return &Caller{}
	}
	return c
}

// Authenticator resolves callers.
type Authenticator struct {
	db         *store.DB
	users      *auth.Service
	csrfKey    []byte
	trustProxy bool
	secure     bool
	memory     memory      // callers recently identified (see RememberFor)
	gens       sharedReads // reads of the auth_generation count (see generation)
}

// New returns an Authenticator. csrfKey is shared by every instance (it lives
// in the database), so a form served by one instance posts to another.
// trustProxy says the server is behind a load balancer that sets
// X-Forwarded-For and X-Forwarded-Proto; secure forces Secure cookies.
func New(db *store.DB, users *auth.Service, csrfKey []byte, trustProxy, secure bool) *Authenticator {
	return &Authenticator{db: db, users: users, csrfKey: csrfKey, trustProxy: trustProxy, secure: secure}
}

// ClientIP returns the address of the client.
func (a *Authenticator) ClientIP(r *http.Request) string {
	if a.trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsTLS reports whether the client reached us over TLS.
func (a *Authenticator) IsTLS(r *http.Request) bool {
	return r.TLS != nil || a.secure || (a.trustProxy && r.Header.Get("X-Forwarded-Proto") == "https")
}

// Identify attaches the Caller to every request. It never refuses: handlers
// decide what an anonymous or half-signed-in caller may do.
func (a *Authenticator) Identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &Caller{IP: a.ClientIP(r), UserAgent: r.UserAgent()}
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			secret := strings.TrimSpace(h[7:])
			key := "t:" + ident.Hash(secret)
			if gen, genOK, hit := a.recalled(ctx, key, c); !hit {
				if u, err := a.users.AuthenticateToken(ctx, secret); err == nil {
					a.identified(ctx, key, gen, genOK, c, u, true)
				} else {
					c.Token = "invalid-bearer" // a bad token is refused, never treated as anonymous
				}
			}
		} else if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
			key := "s:" + ident.Hash(ck.Value)
			if gen, genOK, hit := a.recalled(ctx, key, c); hit {
				c.Token = ck.Value
			} else if sess, u, err := a.users.Session(ctx, ck.Value); err == nil {
				c.Session, c.User, c.Token = sess, u, ck.Value
				if sess.State == auth.StateFull { // only fully signed-in sessions have a principal
					a.identified(ctx, key, gen, genOK, c, u, false)
				}
			}
		}
		if ck, err := r.Cookie(AnonCookie); err == nil && len(ck.Value) >= 20 {
			c.anon = ck.Value
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, c)))
	})
}

// recalled reads the auth_generation count and recalls the caller
// remembered under key at that count, if any (hit).
func (a *Authenticator) recalled(ctx context.Context, key string, c *Caller) (gen int64, genOK, hit bool) {
	gen, genOK = a.generation(ctx)
	return gen, genOK, genOK && a.recall(key, gen, c)
}

// identified gives c, authenticated as u, its principal and remembers it
// under key at generation gen (read before u was loaded) if the count
// could be read. A principal that cannot be loaded leaves c without one.
func (a *Authenticator) identified(ctx context.Context, key string, gen int64, genOK bool, c *Caller, u *auth.User, viaToken bool) {
	p, err := authz.Load(ctx, a.db, u)
	if err != nil {
		return
	}
	p.IP, p.UserAgent, p.ViaToken = c.IP, c.UserAgent, viaToken
	c.User, c.Principal = u, p
	if genOK {
		a.remember(key, gen, c)
	}
}

// BadBearer reports whether the request carried an API token that failed.
func (c *Caller) BadBearer() bool { return c.Token == "invalid-bearer" }

// CSRFToken returns the token forms must carry for this caller, setting the
// anonymous cookie when the caller has no session yet.
func (a *Authenticator) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	c := From(r.Context())
	if c.Session != nil {
		return a.mac("s:" + c.Session.IDHash)
	}
	if c.anon == "" {
		c.anon = ident.Secret("")
		http.SetCookie(w, &http.Cookie{Name: AnonCookie, Value: c.anon, Path: "/", HttpOnly: true,
			Secure: a.IsTLS(r), SameSite: http.SameSiteLaxMode, MaxAge: 86400})
	}
	return a.mac("a:" + c.anon)
}

func (a *Authenticator) mac(s string) string {
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckCSRF verifies the token of a state-changing request: the form field
// csrf_token, or the X-CSRF-Token header for scripts using the session.
// Requests authenticated by API token carry no ambient credentials and are
// exempt. Errors: Forbidden.
func (a *Authenticator) CheckCSRF(r *http.Request) error {
	c := From(r.Context())
	if c.Principal != nil && c.Principal.ViaToken {
		return nil
	}
	// Browsers send Origin on cross-site POSTs; refuse a foreign one outright.
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		host := strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
		if host != r.Host {
			return errs.E(errs.Forbidden, "This form was sent from another site and has been refused")
		}
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf_token")
	}
	var want string
	switch {
	case c.Session != nil:
		want = a.mac("s:" + c.Session.IDHash)
	case c.anon != "":
		want = a.mac("a:" + c.anon)
	}
	if want == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return errs.E(errs.Forbidden, "The form has expired or did not come from CareGate. Go back, reload the page and try again.")
	}
	return nil
}

// SetSession sets the session cookie.
func (a *Authenticator) SetSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: a.IsTLS(r), SameSite: http.SameSiteLaxMode})
}

// ClearSession removes the session cookie.
func (a *Authenticator) ClearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: a.IsTLS(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}
