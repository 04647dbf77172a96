package member

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// The bounds of a bulk intake file. MaxIntakeBytes is the one place the
// size limit is set: the portal's upload form and the API's intake route
// size their request-body limits from it, and every refusal of a file too
// large says it in MB (IntakeTooLarge).
const (
	MaxIntakeBytes = 5 << 20 // 5 MB
	MaxIntakeRows  = 10000   // people in one file
)

// IntakeTooLarge is the refusal of an intake file over MaxIntakeBytes,
// wherever it is met: here, in the portal's upload, in the API's body limit.
func IntakeTooLarge() error {
	return fileError("The file is larger than %d MB: split it into smaller files and upload each", MaxIntakeBytes>>20)
}

// fileError refuses an intake file as a whole, with one message saying why.
func fileError(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &errs.Error{Code: errs.Invalid, Message: msg, Fields: []errs.FieldError{{Field: "file", Message: msg}}}
}

// Intake row statuses.
const (
	RowReady   = "ready"   // will be invited
	RowError   = "error"   // cannot be invited; see Errors
	RowSkipped = "skipped" // already a member or already invited: nothing to do
	RowCreated = "created" // invited (after confirmation)
)

// Intake is a bulk intake file, previewed row by row, then confirmed.
type Intake struct {
	ID       string       `json:"id"`
	SiteID   string       `json:"site_id"`
	FileName string       `json:"file_name"`
	Status   string       `json:"status"` // previewed | confirmed
	Rows     []*IntakeRow `json:"rows"`
	Ready    int          `json:"ready"`
	Errors   int          `json:"errors"`
	Skipped  int          `json:"skipped"`
	Created  int          `json:"created"`
}

// IntakeRow is one line of the file.
type IntakeRow struct {
	Line         int             `json:"line"` // in the file, counting the header as line 1
	Input        InvitationInput `json:"input"`
	Status       string          `json:"status"`
	Errors       []string        `json:"errors,omitempty"`
	InvitationID string          `json:"invitation_id,omitempty"`
}

// intakeColumns are the columns of an intake file: the header names each
// (in any order; case, spaces and underscores do not matter), and the
// other names accepted for it.
var intakeColumns = []struct {
	name     string
	aliases  []string
	required bool
}{
	{"forename", []string{"given name", "first name"}, true},
	{"surname", []string{"family name", "last name"}, true},
	{"email", []string{"e-mail", "email address", "e-mail address"}, true},
	{"contact number", []string{"phone", "telephone"}, true},
	{"job title", nil, true},
	{"job category", nil, true},
	{"record role", []string{"role"}, true},
	{"finishing date", []string{"end date"}, false},
}

// IntakeHeader is the header line of a template intake file.
const IntakeHeader = "forename,surname,email,contact_number,job_title,job_category,record_role,finishing_date"

func headerKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer("_", " ", "-", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// parseIntake reads a CSV file into rows of input, refusing a file that is
// not a CSV of the expected shape as a whole (with one message saying why).
func parseIntake(data []byte) ([]*IntakeRow, error) {
	if len(data) == 0 {
		return nil, fileError("The file is empty: choose a CSV file with a header line and one line per person")
	}
	if len(data) > MaxIntakeBytes {
		return nil, IntakeTooLarge()
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel's byte-order mark
	if !utf8.Valid(data) {
		return nil, fileError("The file is not UTF-8 text: in your spreadsheet, save it as \"CSV UTF-8 (comma delimited)\" and upload it again")
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fileError("The file contains binary data: upload a CSV file")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fileError("The first line of the file could not be read as CSV: %s", csvError(err))
	}
	pos := map[string]int{}
	var unknown []string
	for i, h := range header {
		k := headerKey(h)
		found := false
		for _, c := range intakeColumns {
			if k == c.name || contains(c.aliases, k) {
				if _, dup := pos[c.name]; dup {
					return nil, fileError("The column %q appears twice in the header line", h)
				}
				pos[c.name], found = i, true
			}
		}
		if !found && k != "" {
			unknown = append(unknown, h)
		}
	}
	var missing []string
	for _, c := range intakeColumns {
		if _, ok := pos[c.name]; !ok && c.required {
			missing = append(missing, strings.ReplaceAll(c.name, " ", "_"))
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		msg := "The header line must name the columns " + IntakeHeader + " (finishing_date is optional)."
		if len(missing) > 0 {
			msg += " Missing: " + strings.Join(missing, ", ") + "."
		}
		if len(unknown) > 0 {
			msg += " Not recognised: " + strings.Join(unknown, ", ") + "."
		}
		return nil, fileError("%s", msg)
	}
	var rows []*IntakeRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, fileError("Line %d could not be read as CSV: %s", line, csvError(err))
		}
		line, _ := r.FieldPos(0)
		if len(rows) >= MaxIntakeRows {
			return nil, fileError("The file has more than %d people: split it into smaller files", MaxIntakeRows)
		}
		if blank(rec) {
			continue
		}
		get := func(name string) string {
			if i, ok := pos[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		in := InvitationInput{GivenName: get("forename"), FamilyName: get("surname"), Email: get("email"), Phone: get("contact number"),
			JobTitle: get("job title"), JobCategory: get("job category"), RecordRole: roleKey(get("record role")),
			FinishingDate: get("finishing date"), IGConfirmed: true}
		row := &IntakeRow{Line: line, Input: in, Status: RowReady}
		if len(rec) != len(header) {
			row.Errors = append(row.Errors, fmt.Sprintf("has %d columns, the header has %d", len(rec), len(header)))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fileError("The file has a header line but nobody in it")
	}
	return rows, nil
}

func csvError(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// contains reports whether x is one of the header names xs.
func contains(xs []string, x string) bool {
	for _, y := range xs {
		if headerKey(y) == x {
			return true
		}
	}
	return false
}

// roleKey accepts a record role by its name or its label.
func roleKey(s string) string {
	switch headerKey(s) {
	case "care professional":
		return "care_professional"
	case "administrator":
		return "administrator"
	}
	return strings.TrimSpace(s)
}

// check validates every row and marks those already done: already a member
// or invited (so a file uploaded twice invites nobody twice), or the same
// person twice in the file.
func (s *Service) checkRows(ctx context.Context, q store.Querier, pl *Place, rows []*IntakeRow) error {
	// Who is already a member or invited, in two queries.
	done := map[string]string{}
	for _, qq := range []struct {
		sql  string
		args []any
	}{
		{`SELECT u.email, m.status FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.site_id = ? AND m.status <> 'deleted'`,
			[]any{pl.site.ID}},
		// An invitation past its expiry no longer counts, swept or not.
		{`SELECT email, 'invited' FROM invitations WHERE site_id = ? AND status = 'pending' AND expires_at > ?`,
			[]any{pl.site.ID, s.clock.Now().UnixMicro()}},
	} {
		rs, err := q.Query(ctx, qq.sql, qq.args...)
		if err != nil {
			return errs.Wrap(err, "read site")
		}
		for rs.Next() {
			var email, status string
			if err := rs.Scan(&email, &status); err != nil {
				rs.Close()
				return errs.Wrap(err, "read site")
			}
			done[email] = status
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return errs.Wrap(err, "read site")
		}
	}
	seen := map[string]int{}
	for _, row := range rows {
		if err := s.check(&row.Input, pl.org); err != nil {
			for _, f := range errs.As(err).Fields {
				row.Errors = append(row.Errors, f.Message)
			}
		}
		if len(row.Errors) > 0 {
			row.Status = RowError
			continue
		}
		email := row.Input.Email
		if first, ok := seen[email]; ok {
			row.Status, row.Errors = RowError, []string{fmt.Sprintf("%s is also on line %d", email, first)}
			continue
		}
		seen[email] = row.Line
		switch done[email] {
		case "active":
			row.Status, row.Errors = RowSkipped, []string{"already a member of this site"}
		case "deactivated":
			row.Status, row.Errors = RowSkipped, []string{"a deactivated member of this site: reactivate them from the membership history"}
		case "invited":
			row.Status, row.Errors = RowSkipped, []string{"already invited to this site"}
		}
	}
	return nil
}

func (in *Intake) count() {
	in.Ready, in.Errors, in.Skipped, in.Created = 0, 0, 0, 0
	for _, r := range in.Rows {
		switch r.Status {
		case RowReady:
			in.Ready++
		case RowError:
			in.Errors++
		case RowSkipped:
			in.Skipped++
		case RowCreated:
			in.Created++
		}
	}
}

// PreviewIntake reads an uploaded CSV file of new staff for the place's
// site and shows every row with its errors by line number, creating nothing
// yet; the file is kept so that what is confirmed is exactly what was
// previewed. Callers: the site's authorisers. Errors: as Invite; Invalid
// for a file that is not a CSV of the expected shape (wrong header,
// encoding, too large, too many rows).
func (s *Service) PreviewIntake(ctx context.Context, pl *Place, fileName string, data []byte) (*Intake, error) {
	if err := pl.manage(); err != nil {
		return nil, err
	}
	p, siteID := pl.by, pl.site.ID
	var v errs.Validation
	fileName = v.Text("file", "The file name", fileName, false, 200)
	if err := v.Err(); err != nil {
		return nil, err
	}
	rows, err := parseIntake(data)
	if err != nil {
		return nil, err
	}
	if err := s.checkRows(ctx, s.db, pl, rows); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	in := &Intake{ID: ident.New(), SiteID: siteID, FileName: fileName, Status: "previewed", Rows: rows}
	in.count()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO invitation_intakes (id, site_id, created_by, created_at, file_name, file_sha256, content, row_count, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'previewed')`, in.ID, siteID, p.UserID, s.clock.Now().UnixMicro(), fileName,
			hex.EncodeToString(sum[:]), string(data), len(rows)); err != nil {
			return errs.Wrap(err, "store intake")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "intake.preview", "intake", in.ID, audit.Success, map[string]string{
			"site_id": siteID, "file_name": fileName, "sha256": hex.EncodeToString(sum[:]), "rows": fmt.Sprint(len(rows)),
			"ready": fmt.Sprint(in.Ready), "errors": fmt.Sprint(in.Errors), "skipped": fmt.Sprint(in.Skipped)}))
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// ConfirmIntake invites every valid row of a previewed intake, all in one
// transaction: either every invitation is created (with its e-mail) or
// none is. Rows already done are skipped, so confirming a file uploaded
// twice invites nobody twice. The authoriser confirms the IG training of
// everyone in it. Callers: the authoriser who uploaded it, or another of
// the site's authorisers. Errors: as PreviewIntake, NotFound, Conflict
// (already confirmed), Invalid (no IG confirmation).
func (s *Service) ConfirmIntake(ctx context.Context, pl *Place, id string, igConfirmed bool) (*Intake, error) {
	if err := pl.manage(); err != nil {
		return nil, err
	}
	p, siteID := pl.by, pl.site.ID
	if !igConfirmed {
		return nil, &errs.Error{Code: errs.Invalid, Message: "Confirm that everyone in the file is compliant with your organisation's information governance training",
			Fields: []errs.FieldError{{Field: "ig_confirmed", Message: "Confirm that everyone in the file is compliant with your organisation's information governance training"}}}
	}
	in := &Intake{ID: id, SiteID: siteID}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var content string
		err := tx.QueryRow(ctx, `SELECT file_name, content, status FROM invitation_intakes WHERE id = ? AND site_id = ?`, id, siteID).
			Scan(&in.FileName, &content, &in.Status)
		if store.IsNoRows(err) {
			return errs.E(errs.NotFound, "There is no such upload for this site: upload the file again")
		}
		if err != nil {
			return errs.Wrap(err, "read intake")
		}
		if in.Status != "previewed" {
			return errs.E(errs.Conflict, "This file has already been confirmed: its invitations were sent")
		}
		if in.Rows, err = parseIntake([]byte(content)); err != nil {
			return err
		}
		if err := s.expireDueTx(ctx, tx, siteID); err != nil {
			return err
		}
		if err := s.checkRows(ctx, tx, pl, in.Rows); err != nil {
			return err
		}
		// checkRows has just found every duplicate in this transaction.
		var ready []*IntakeRow
		var ins []InvitationInput
		for _, row := range in.Rows {
			if row.Status == RowReady {
				ready, ins = append(ready, row), append(ins, row.Input)
			}
		}
		ids, err := s.insertInvitations(ctx, tx, p, pl, ins, id)
		if err != nil {
			return err
		}
		for i, row := range ready {
			row.InvitationID, row.Status = ids[i], RowCreated
		}
		in.count()
		in.Status = "confirmed"
		// The file's personal data is not kept once its invitations exist.
		if _, err := tx.Exec(ctx, `UPDATE invitation_intakes SET status = 'confirmed', content = '', confirmed_at = ?, created_count = ? WHERE id = ?`,
			s.clock.Now().UnixMicro(), in.Created, id); err != nil {
			return errs.Wrap(err, "confirm intake")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "intake.confirm", "intake", id, audit.Success, map[string]string{
			"site_id": siteID, "created": fmt.Sprint(in.Created), "skipped": fmt.Sprint(in.Skipped), "errors": fmt.Sprint(in.Errors)}))
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}
