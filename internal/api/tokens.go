package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// Tokens are always the caller's own: the user id comes from the principal,
// never from the request.

// tokenRequest is the (optional) body of POST /tokens.
type tokenRequest struct {
	Name string `json:"name,omitempty"` // a label, e.g. "nightly export"; default "API token"
}

// createdToken is the answer to POST /tokens.
type createdToken struct {
	Token  *auth.APIToken `json:"token"`
	Secret string         `json:"secret"` // the bearer token; shown only here
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	ts, err := h.users.Tokens(r.Context(), c.Principal.UserID)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(ts)})
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if c.Principal.ViaToken {
		// A token minting tokens would let one leaked secret outlive its
		// own revocation; new tokens need the full sign-in with MFA.
		return errs.E(errs.Forbidden, "An API token cannot create API tokens: sign in to the portal to create one")
	}
	var in tokenRequest
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	secret, t, err := h.users.CreateToken(r.Context(), c.Principal.Who(), c.Principal.UserID, in.Name)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/tokens/"+t.ID, createdToken{Token: t, Secret: secret})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := h.users.RevokeToken(r.Context(), c.Principal.Who(), c.Principal.UserID, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}
