package api

import (
	"net/http"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/httpauth"
)

// getRecordAccount answers with a person's record account. The access
// service leaves the check to its callers: the back office, administrators,
// privacy officers and the person themself may see it; anyone else is
// refused before the account is looked up, so that a refusal does not tell
// whether the person has one.
func (h *Handler) getRecordAccount(w http.ResponseWriter, r *http.Request, c *httpauth.Caller) error {
	p, id := c.Principal, r.PathValue("id")
	if p.UserID != id && !p.Has(authz.BackOffice) && !p.Has(authz.Admin) && !p.Has(authz.PrivacyOfficer) {
		return errs.E(errs.Forbidden, "Only the back office, administrators, privacy officers and the person themself may see a record account")
	}
	a, err := h.requests.Account(r.Context(), id)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, a)
}
