package api

import (
	"net/http"
	"strconv"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// The accounts service takes an audit identity rather than a principal and
// leaves the role check to its callers, so every handler here checks that
// the caller is an administrator before acting.

// newUser is the body of POST /users. Unlike auth.NewUser it takes no
// password: the person chooses one through the returned set-up link.
type newUser struct {
	Email      string   `json:"email"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Roles      []string `json:"roles,omitempty"` // region-wide roles: admin, back_office, privacy_officer
}

// createdUser is the answer to POST /users.
type createdUser struct {
	User      *auth.User `json:"user"`
	SetupLink string     `json:"setup_link"` // one-time; shown only here
}

// roleList is the body of PUT /users/{id}/roles.
type roleList struct {
	Roles []string `json:"roles"` // the complete new set; [] removes all
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 200
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return fieldError("limit", "Give a whole number from 1 to 500")
		}
		limit = n
	}
	users, err := h.users.ListUsers(r.Context(), q.Get("q"), limit)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(users)})
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	var in newUser
	if err := decode(r, &in); err != nil {
		return err
	}
	who := c.Principal.Who()
	u, err := h.users.CreateUser(r.Context(), who, auth.NewUser{Email: in.Email, GivenName: in.GivenName,
		FamilyName: in.FamilyName, Roles: nonNil(in.Roles)})
	if err != nil {
		return err
	}
	token, err := h.users.CreateSetupLink(r.Context(), who, u.ID)
	if err != nil {
		return err
	}
	return h.created(w, Prefix+"/users/"+u.ID, createdUser{User: u, SetupLink: h.setupLink(r, token)})
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	u, err := h.users.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, u)
}

func (h *Handler) setRoles(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	var in roleList
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Roles == nil {
		return fieldError("roles", "Give the complete list of roles, [] for none")
	}
	id := r.PathValue("id")
	if err := h.users.SetRoles(r.Context(), c.Principal.Who(), id, in.Roles); err != nil {
		return err
	}
	return h.replyUser(w, r, id)
}

func (h *Handler) deactivateUser(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	return h.setStatus(w, r, c, auth.StatusDeactivated)
}

func (h *Handler) activateUser(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	return h.setStatus(w, r, c, auth.StatusActive)
}

func (h *Handler) setStatus(w http.ResponseWriter, r *http.Request, c *httpauth.Caller, status string) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.users.SetStatus(r.Context(), c.Principal.Who(), id, status); err != nil {
		return err
	}
	return h.replyUser(w, r, id)
}

func (h *Handler) replyUser(w http.ResponseWriter, r *http.Request, id string) error {
	u, err := h.users.User(r.Context(), id)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, u)
}

// fieldError is an Invalid error about one field.
func fieldError(field, message string) error {
	return &errs.Error{Code: errs.Invalid, Message: field + ": " + message, Fields: []errs.FieldError{{Field: field, Message: message}}}
}
