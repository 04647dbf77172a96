package api

import (
	"net/http"
	"strconv"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/notify"
)

// The outbox: every e-mail CareGate has queued, sent or given up on, for
// administrators. Without an SMTP server it is how messages reach people.

func (h *Handler) outboxRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/outbox", Summary: "List e-mails in the outbox, newest first, without their bodies", Roles: rolesAdmin,
			Query: []Param{
				{Name: "to", Description: "All or part of the recipient's address, any case"},
				{Name: "kind", Description: "The kind of message, e.g. request_completed, credentials_username"},
				{Name: "status", Description: "pending, sent or failed"},
				{Name: "limit", Description: "At most this many (1–500, default 100)", Format: "int32"},
				{Name: "cursor", Description: "next_cursor of the previous page: older messages"},
			},
			Response: listOf[notify.OutboxMessage]{}, serve: h.listOutbox},
		{Method: "GET", Path: "/outbox/{id}", Summary: "Get one e-mail with its bodies. A one-time password is shown only while " +
			"the message is pending and no SMTP server delivers it (or in demo mode); reading it is audited", Roles: rolesAdmin,
			Response: notify.OutboxMessage{}, serve: h.getOutboxMessage},
	}
}

func (h *Handler) listOutbox(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	q := r.URL.Query()
	f := notify.Filter{To: q.Get("to"), Kind: q.Get("kind"), Status: q.Get("status"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return fieldError("limit", "Give a whole number from 1 to 500")
		}
		f.Limit = n
	}
	ms, next, err := notify.List(r.Context(), h.db, f)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, list{Items: nonNil(ms), NextCursor: next})
}

func (h *Handler) getOutboxMessage(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	if err := authz.Require(c.Principal, authz.Admin); err != nil {
		return err
	}
	reveal := h.demo != nil || !h.outbox.Delivers()
	m, err := notify.Get(r.Context(), h.db, r.PathValue("id"), reveal)
	if err != nil {
		return err
	}
	if m.Sensitive && !m.BodyWithheld {
		// Reading someone's one-time password is recorded before it leaves.
		if err := h.audit.Append(r.Context(), audit.New(c.Principal.Who(), "email.read_secret", "email", m.ID, audit.Success,
			map[string]string{"kind": m.Kind, "to": m.To})); err != nil {
			return errs.Wrap(err, "audit reading a secret message")
		}
	}
	return h.reply(w, http.StatusOK, m)
}
