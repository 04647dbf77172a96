package record

import (
	"context"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// Report is a member's report that an item looks wrong.
type Report struct {
	ID           string    `json:"id"`
	ResourceID   string    `json:"resource_id"`
	Item         string    `json:"item"` // type and display of the item
	Organisation string    `json:"organisation"`
	NHSNumber    string    `json:"nhs_number"`
	ReporterID   string    `json:"reporter_id"`
	Description  string    `json:"description"`
	Status       string    `json:"status"` // open | closed
	Resolution   string    `json:"resolution"`
	CreatedAt    time.Time `json:"created_at"`
	ClosedAt     time.Time `json:"closed_at"`
}

// ReportProblem records that an item looks wrong and e-mails the supplying
// organisation's data-quality contact (if it has named one) through the
// outbox, in the same transaction. The reporter must be allowed to see the
// item. Callers: anyone who passes the gate. Errors: Forbidden, NotFound,
// Invalid.
func (s *Service) ReportProblem(ctx context.Context, p *authz.Principal, resourceID, description string) (*Report, error) {
	v, err := s.gate(ctx, p, ViaSearch)
	if err != nil {
		return nil, s.refuse(ctx, p, v, "record.report", "", err, nil)
	}
	description = strings.TrimSpace(description)
	if description == "" || len(description) > 2000 {
		return nil, &errs.Error{Code: errs.Invalid, Message: "Say what looks wrong, in up to 2,000 characters",
			Fields: []errs.FieldError{{Field: "description", Message: "Say what looks wrong"}}}
	}
	r := &Report{ID: ident.New(), ResourceID: resourceID, ReporterID: p.UserID, Description: description, Status: "open", CreatedAt: s.clock.Now()}
	var typ, display, orgID, contact string
	err = s.db.QueryRow(ctx, `SELECT r.resource_type, r.display, r.nhs_number, r.organisation_id, o.name, COALESCE(c.email, '')
		FROM record_resources r JOIN organisations o ON o.id = r.organisation_id LEFT JOIN record_contacts c ON c.organisation_id = r.organisation_id
		WHERE r.id = ?`, resourceID).Scan(&typ, &display, &r.NHSNumber, &orgID, &r.Organisation, &contact)
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such item in the record")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load item")
	}
	if !RoleSees(v.Role, SectionOf(typ)) {
		return nil, s.refuse(ctx, p, v, "record.report", r.NHSNumber, errs.E(errs.Forbidden, "Your record role does not allow you to see this item"), nil)
	}
	r.Item = typ + ": " + display
	ref := "D-" + strings.ToUpper(r.ID[:6])
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO record_reports (id, resource_id, organisation_id, nhs_number, reporter_id, description, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, 'open', ?)`, r.ID, resourceID, orgID, r.NHSNumber, p.UserID, description, r.CreatedAt.UnixMicro()); err != nil {
			return errs.Wrap(err, "save report")
		}
		if contact != "" && s.outbox != nil {
			if _, err := s.outbox.Enqueue(ctx, tx, notify.Message{To: contact, Kind: notify.KindRecordDataProblem, RelatedType: "record_report",
				RelatedID: r.ID, Data: map[string]string{"Name": r.Organisation + " data quality team", "Ref": ref, "Title": r.Item,
					"Reason": description, "Patient": r.NHSNumber, "Link": s.cfg.BaseURL + "/record/reports"}}); err != nil {
				return errs.Wrap(err, "queue report e-mail")
			}
		}
		return s.audit.Record(ctx, tx, s.event(p, v, "record.report", r.NHSNumber, audit.Success,
			map[string]string{"report": r.ID, "resource": resourceID, "supplier": orgID}))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// SetContact names the e-mail address an organisation's data-problem
// reports go to. Callers: programme administrators. Errors: Forbidden.
func (s *Service) SetContact(ctx context.Context, p *authz.Principal, orgID, email string) error {
	if err := authz.Require(p, authz.Admin); err != nil {
		return err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") || strings.ContainsAny(email, " \r\n") {
		return errs.E(errs.Invalid, "Enter the data-quality contact's e-mail address")
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO record_contacts (organisation_id, email) VALUES (?, ?)
			ON CONFLICT (organisation_id) DO UPDATE SET email = excluded.email`, orgID, email); err != nil {
			return errs.Wrap(err, "set contact")
		}
		return s.audit.Record(ctx, tx, audit.New(p.Who(), "record.contact.set", "organisation", orgID, audit.Success, map[string]string{"email": email}))
	})
}

// Reports lists data-problem reports: programme administrators see every
// one, anyone else their own. Errors: Unauthenticated.
func (s *Service) Reports(ctx context.Context, p *authz.Principal) ([]Report, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	q := `SELECT rp.id, rp.resource_id, r.resource_type || ': ' || r.display, o.name, rp.nhs_number, rp.reporter_id, rp.description, rp.status,
		rp.resolution, rp.created_at, rp.closed_at FROM record_reports rp JOIN record_resources r ON r.id = rp.resource_id
		JOIN organisations o ON o.id = rp.organisation_id`
	var args []any
	if !p.IsAdmin() {
		q += ` WHERE rp.reporter_id = ?`
		args = append(args, p.UserID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY rp.created_at DESC, rp.id LIMIT 500`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "list reports")
	}
	defer rows.Close()
	out := []Report{}
	for rows.Next() {
		var r Report
		var created, closed int64
		if err := rows.Scan(&r.ID, &r.ResourceID, &r.Item, &r.Organisation, &r.NHSNumber, &r.ReporterID, &r.Description, &r.Status,
			&r.Resolution, &created, &closed); err != nil {
			return nil, errs.Wrap(err, "list reports")
		}
		r.CreatedAt = time.UnixMicro(created).UTC()
		if closed != 0 {
			r.ClosedAt = time.UnixMicro(closed).UTC()
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CloseReport closes a report with what was done. Callers: programme
// administrators (who pass on the supplier's answer). Errors: Forbidden,
// NotFound, Invalid.
func (s *Service) CloseReport(ctx context.Context, p *authz.Principal, id, resolution string) error {
	if err := authz.Require(p, authz.Admin); err != nil {
		return err
	}
	resolution = strings.TrimSpace(resolution)
	if resolution == "" {
		return &errs.Error{Code: errs.Invalid, Message: "Say how the report was resolved", Fields: []errs.FieldError{{Field: "resolution", Message: "Say how the report was resolved"}}}
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE record_reports SET status = 'closed', resolution = ?, closed_at = ?, closed_by = ? WHERE id = ? AND status = 'open'`,
			resolution, s.clock.Now().UnixMicro(), p.UserID, id)
		if err != nil {
			return errs.Wrap(err, "close report")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "No such open report")
		}
		return s.audit.Record(ctx, tx, audit.New(p.Who(), "record.report.close", "record_report", id, audit.Success, nil))
	})
}

// ReportableItem returns one item for the report form, if the person may
// see it; showing it is audited like any other view. Errors: Forbidden,
// NotFound, Internal.
func (s *Service) ReportableItem(ctx context.Context, p *authz.Principal, via, resourceID string) (*Item, string, error) {
	v, err := s.gate(ctx, p, via)
	detail := map[string]string{"resource": resourceID}
	if err != nil {
		return nil, "", s.refuse(ctx, p, v, "record.item", "", err, detail)
	}
	it := &Item{ID: resourceID}
	var nhs string
	var updated int64
	err = s.db.QueryRow(ctx, `SELECT r.resource_type, r.item_date, r.display, r.status, o.name, o.ods_code, r.updated_at, r.nhs_number
		FROM record_resources r JOIN organisations o ON o.id = r.organisation_id WHERE r.id = ?`, resourceID).
		Scan(&it.Type, &it.Date, &it.Display, &it.Status, &it.Organisation, &it.ODS, &updated, &nhs)
	if store.IsNoRows(err) {
		return nil, "", errs.E(errs.NotFound, "No such item in the record")
	}
	if err != nil {
		return nil, "", errs.Wrap(err, "load item")
	}
	if !RoleSees(v.Role, SectionOf(it.Type)) {
		return nil, "", s.refuse(ctx, p, v, "record.item", nhs, errs.E(errs.Forbidden, "Your record role does not allow you to see this item"), detail)
	}
	it.UpdatedAt = time.UnixMicro(updated).UTC()
	if err := s.release(ctx, p, v, "record.item", nhs, detail); err != nil {
		return nil, "", err
	}
	return it, nhs, nil
}
