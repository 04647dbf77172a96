package web

import (
	"net/http"
	"net/url"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
	"github.com/caregate/caregate/internal/notify"
)

// The outbox pages let administrators see every e-mail CareGate has queued,
// sent or given up on. Without an SMTP server they are how messages reach
// people: an administrator reads a message and passes it on.

func (h *Handler) registerOutbox(mux *http.ServeMux) {
	h.handle(mux, "GET /admin/outbox", signedIn, h.outboxList)
	h.handle(mux, "GET /admin/outbox/{id}", signedIn, h.outboxMessage)
}

// outboxData is what outbox.html shows.
type outboxData struct {
	Messages []notify.OutboxMessage
	Next     string // query of the next (older) page; "" on the last
	Kinds    []string
	Statuses []string
	Delivers bool // an SMTP server is configured
}

func (h *Handler) outboxList(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	d := &outboxData{Kinds: notify.Kinds(), Statuses: notify.Statuses(), Delivers: h.outbox.Delivers()}
	pg := &Page{Title: "Outbox", Nav: "admin", Form: q, Data: d}
	ms, next, err := notify.List(r.Context(), h.db, notify.Filter{To: q.Get("to"), Kind: q.Get("kind"),
		Status: q.Get("status"), Cursor: q.Get("cursor"), Limit: 50})
	if err != nil {
		if errs.CodeOf(err) == errs.Invalid {
			pg.Err = errs.As(err)
			h.render(w, r, http.StatusBadRequest, "outbox", pg)
			return
		}
		h.fail(w, r, err)
		return
	}
	d.Messages = ms
	if next != "" {
		nq := url.Values{}
		for _, k := range []string{"to", "kind", "status"} {
			if v := q.Get(k); v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("cursor", next)
		d.Next = nq.Encode()
	}
	h.render(w, r, http.StatusOK, "outbox", pg)
}

// outboxMessageData is what outbox_message.html shows.
type outboxMessageData struct {
	M        *notify.OutboxMessage
	Delivers bool
}

func (h *Handler) outboxMessage(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	// A pending one-time password is shown only where no SMTP server
	// delivers it (or in demo mode): then the portal is its way out.
	reveal := h.demo != nil || !h.outbox.Delivers()
	m, err := notify.Get(r.Context(), h.db, r.PathValue("id"), reveal)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if m.Sensitive && !m.BodyWithheld {
		// Seeing someone's one-time password is recorded, and must be
		// before the page leaves.
		c := httpauth.From(r.Context())
		if err := h.audit.Append(r.Context(), audit.New(c.Who(), "email.read_secret", "email", m.ID, audit.Success,
			map[string]string{"kind": m.Kind, "to": m.To})); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, http.StatusOK, "outbox_message", &Page{Title: m.Subject, Nav: "admin",
		Data: &outboxMessageData{M: m, Delivers: h.outbox.Delivers()}})
}
