package training

import (
	"context"
	"strconv"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// The columns of a module and of the version that names it: the current one,
// or the draft before the first publication.
const moduleColumns = `m.id, m.status, m.current_version, m.draft_version, m.mandatory, m.validity_months, m.blocks_existing_access,
	m.position, m.first_published_at, m.created_at, m.updated_at, COALESCE(v.title, ''), COALESCE(v.summary, '')`

const moduleFrom = ` FROM training_modules m LEFT JOIN training_module_versions v ON v.module_id = m.id
	AND v.version = CASE WHEN m.current_version > 0 THEN m.current_version ELSE m.draft_version END`

func scanModule(row interface{ Scan(...any) error }) (*Module, error) {
	var m Module
	var mand, blocks int
	var first, created, updated int64
	if err := row.Scan(&m.ID, &m.Status, &m.CurrentVersion, &m.DraftVersion, &mand, &m.ValidityMonths, &blocks, &m.Position,
		&first, &created, &updated, &m.Title, &m.Summary); err != nil {
		return nil, err
	}
	m.Mandatory, m.BlocksExistingAccess = mand == 1, blocks == 1
	m.FirstPublishedAt, m.CreatedAt, m.UpdatedAt = micros(first), utc(created), utc(updated)
	return &m, nil
}

// getModule loads a module; on PostgreSQL inside a transaction it locks the
// module's row, so that two administrators' changes take turns.
func getModule(ctx context.Context, q store.Querier, id string, lock bool) (*Module, error) {
	if tx, ok := q.(*store.Tx); ok && lock && tx.Dialect() == store.Postgres {
		if _, err := tx.Exec(ctx, `SELECT id FROM training_modules WHERE id = ? FOR UPDATE`, id); err != nil {
			return nil, errs.Wrap(err, "lock module")
		}
	}
	m, err := scanModule(q.QueryRow(ctx, `SELECT `+moduleColumns+moduleFrom+` WHERE m.id = ?`, id))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such training module")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load module")
	}
	return m, nil
}

// apply validates in and applies it to st.
func (in *SettingsInput) apply(st *Settings) error {
	var v errs.Validation
	if in.Mandatory != nil {
		st.Mandatory = *in.Mandatory
	}
	if in.ValidityMonths != nil {
		st.ValidityMonths = *in.ValidityMonths
	}
	if st.ValidityMonths < 0 || st.ValidityMonths > MaxValidityMonths {
		v.Add("validity_months", "Give the validity period in months, from 0 (never lapses) to %d", MaxValidityMonths)
	}
	if in.BlocksExistingAccess != nil {
		st.BlocksExistingAccess = *in.BlocksExistingAccess
	}
	if in.Position != nil {
		st.Position = *in.Position
	}
	if st.Position < 0 || st.Position > 10000 {
		v.Add("position", "Give the position as a number from 0 to 10000")
	}
	return v.Err()
}

// CreateModule adds a module as a draft (version 1) with its content and
// settings. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden, Invalid.
func (s *Service) CreateModule(ctx context.Context, p *authz.Principal, c Content, set SettingsInput) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	st := Settings{Mandatory: true}
	verr := set.apply(&st)
	if err := c.clean(); err != nil || verr != nil {
		return nil, joinInvalid(err, verr)
	}
	id := ident.New()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.clock.Now().UnixMicro()
		if _, err := tx.Exec(ctx, `INSERT INTO training_modules (id, status, draft_version, mandatory, validity_months, blocks_existing_access,
			position, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)`,
			id, StatusDraft, flag(st.Mandatory), st.ValidityMonths, flag(st.BlocksExistingAccess), st.Position, now, now); err != nil {
			return errs.Wrap(err, "insert module")
		}
		if err := writeContent(ctx, tx, id, 1, &c, p.UserID, now, true); err != nil {
			return err
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.module.create", "training_module", id, audit.Success,
			map[string]string{"title": c.Title, "pages": strconv.Itoa(len(c.Pages)), "questions": strconv.Itoa(len(c.Questions))}))
	})
	if err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

// joinInvalid merges validation errors so that a form reports every problem
// at once.
func joinInvalid(errsIn ...error) error {
	var v errs.Validation
	for _, err := range errsIn {
		if err == nil {
			continue
		}
		e := errs.As(err)
		if e.Code != errs.Invalid {
			return err
		}
		v.Fields = append(v.Fields, e.Fields...)
	}
	return v.Err()
}

// EditContent changes a module's content. A draft is changed in place; a
// published module is never changed: its first edit makes a new draft
// version, which members do not see until it is published. Callers:
// programme administrators.
// Errors: Unauthenticated, Forbidden, NotFound, Invalid, Conflict (retired).
func (s *Service) EditContent(ctx context.Context, p *authz.Principal, id string, c Content) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if err := c.clean(); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := getModule(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if m.Status == StatusRetired {
			return errs.E(errs.Conflict, "This module has been retired and can no longer be changed")
		}
		now := s.clock.Now().UnixMicro()
		version, insert := m.DraftVersion, false
		if version == 0 {
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM training_module_versions WHERE module_id = ?`, id).Scan(&version); err != nil {
				return errs.Wrap(err, "next version")
			}
			insert = true
		}
		if err := writeContent(ctx, tx, id, version, &c, p.UserID, now, insert); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE training_modules SET draft_version = ?, updated_at = ? WHERE id = ?`, version, now, id); err != nil {
			return errs.Wrap(err, "update module")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.module.edit", "training_module", id, audit.Success,
			map[string]string{"version": strconv.Itoa(version), "new_version": strconv.FormatBool(insert), "title": c.Title}))
	})
	if err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

// UpdateSettings changes a module's settings (mandatory, validity period,
// whether it blocks existing access, position). A new validity period moves
// the lapse date of every completion of the module, and the reminders start
// again for those that moved. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden, NotFound, Invalid, Conflict (retired).
func (s *Service) UpdateSettings(ctx context.Context, p *authz.Principal, id string, in SettingsInput) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := getModule(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if m.Status == StatusRetired {
			return errs.E(errs.Conflict, "This module has been retired and can no longer be changed")
		}
		before := m.Settings
		st := m.Settings
		if err := in.apply(&st); err != nil {
			return err
		}
		now := s.clock.Now()
		if _, err := tx.Exec(ctx, `UPDATE training_modules SET mandatory = ?, validity_months = ?, blocks_existing_access = ?, position = ?,
			updated_at = ? WHERE id = ?`, flag(st.Mandatory), st.ValidityMonths, flag(st.BlocksExistingAccess), st.Position, now.UnixMicro(), id); err != nil {
			return errs.Wrap(err, "update settings")
		}
		if st.ValidityMonths != before.ValidityMonths {
			if err := s.moveExpiries(ctx, tx, id, st.ValidityMonths); err != nil {
				return err
			}
		}
		d := map[string]string{}
		diff := func(k string, a, b any) {
			if a != b {
				d[k] = strconvAny(a) + " -> " + strconvAny(b)
			}
		}
		diff("mandatory", before.Mandatory, st.Mandatory)
		diff("validity_months", before.ValidityMonths, st.ValidityMonths)
		diff("blocks_existing_access", before.BlocksExistingAccess, st.BlocksExistingAccess)
		diff("position", before.Position, st.Position)
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.module.settings", "training_module", id, audit.Success, d))
	})
	if err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

func strconvAny(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

// moveExpiries recomputes the lapse date of a module's completions for a
// new validity period. Reminders start again for a completion whose date
// moved; a lapse already recorded is forgotten only if the completion is
// valid again.
func (s *Service) moveExpiries(ctx context.Context, tx *store.Tx, moduleID string, months int) error {
	rows, err := tx.Query(ctx, `SELECT user_id, completed_at, expires_at FROM training_completions WHERE module_id = ?`, moduleID)
	if err != nil {
		return errs.Wrap(err, "read completions")
	}
	type change struct {
		user    string
		expires int64
	}
	var changes []change
	for rows.Next() {
		var user string
		var completed, expires int64
		if err := rows.Scan(&user, &completed, &expires); err != nil {
			rows.Close()
			return errs.Wrap(err, "scan completion")
		}
		if e := expiry(completed, months); e != expires {
			changes = append(changes, change{user, e})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, "read completions")
	}
	now := s.clock.Now().UnixMicro()
	for _, c := range changes {
		valid := c.expires == 0 || c.expires > now
		if _, err := tx.Exec(ctx, `UPDATE training_completions SET expires_at = ?, reminded_30 = 0, reminded_7 = 0,
			lapsed_at = CASE WHEN ? = 1 THEN 0 ELSE lapsed_at END WHERE user_id = ? AND module_id = ?`,
			c.expires, flag(valid), c.user, moduleID); err != nil {
			return errs.Wrap(err, "move expiry")
		}
	}
	return nil
}

// expiry is when a completion at completed (micros) lapses, 0 for never.
func expiry(completed int64, months int) int64 {
	if months <= 0 {
		return 0
	}
	return addMonths(utc(completed), months).UnixMicro()
}

// Publish makes a module's draft its current version: members take it from
// now on (those part-way through an earlier version finish that one).
// Completions of earlier versions stay valid. Callers: programme
// administrators. Errors: Unauthenticated, Forbidden, NotFound, Conflict
// (retired, no draft, no pages).
func (s *Service) Publish(ctx context.Context, p *authz.Principal, id string) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := getModule(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if m.Status == StatusRetired {
			return errs.E(errs.Conflict, "This module has been retired and cannot be published")
		}
		if m.DraftVersion == 0 {
			return errs.E(errs.Conflict, "There is no draft to publish: edit the module to make one")
		}
		var pages int
		if err := tx.QueryRow(ctx, `SELECT page_count FROM training_module_versions WHERE module_id = ? AND version = ?`, id, m.DraftVersion).Scan(&pages); err != nil {
			return errs.Wrap(err, "read draft")
		}
		if pages == 0 {
			return errs.E(errs.Conflict, "Add at least one page before publishing")
		}
		now := s.clock.Now().UnixMicro()
		if _, err := tx.Exec(ctx, `UPDATE training_module_versions SET published_by = ?, published_at = ? WHERE module_id = ? AND version = ?`,
			p.UserID, now, id, m.DraftVersion); err != nil {
			return errs.Wrap(err, "publish version")
		}
		if _, err := tx.Exec(ctx, `UPDATE training_modules SET status = ?, current_version = ?, draft_version = 0,
			first_published_at = CASE WHEN first_published_at = 0 THEN ? ELSE first_published_at END, updated_at = ? WHERE id = ?`,
			StatusPublished, m.DraftVersion, now, now, id); err != nil {
			return errs.Wrap(err, "publish module")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.module.publish", "training_module", id, audit.Success,
			map[string]string{"version": strconv.Itoa(m.DraftVersion), "previous_version": strconv.Itoa(m.CurrentVersion)}))
	})
	if err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

// DiscardDraft throws away the draft of a published module; members go on
// taking the current version. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden, NotFound, Conflict (no draft, never
// published: retire it instead).
func (s *Service) DiscardDraft(ctx context.Context, p *authz.Principal, id string) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := getModule(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if m.DraftVersion == 0 {
			return errs.E(errs.Conflict, "This module has no draft")
		}
		if m.CurrentVersion == 0 {
			return errs.E(errs.Conflict, "This module has never been published: retire it instead")
		}
		for _, t := range []string{"training_pages", "training_questions", "training_module_versions"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE module_id = ? AND version = ?`, id, m.DraftVersion); err != nil {
				return errs.Wrap(err, "discard draft")
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE training_modules SET draft_version = 0, updated_at = ? WHERE id = ?`, s.clock.Now().UnixMicro(), id); err != nil {
			return errs.Wrap(err, "discard draft")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.module.discard_draft", "training_module", id, audit.Success,
			map[string]string{"version": strconv.Itoa(m.DraftVersion)}))
	})
	if err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

// Retire withdraws a module: it is no longer assigned to anyone, and open
// attempts at it go nowhere. Completions and history are kept. Retiring is
// final. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden, NotFound, Conflict (already retired).
func (s *Service) Retire(ctx context.Context, p *authz.Principal, id string) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := getModule(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if m.Status == StatusRetired {
			return errs.E(errs.Conflict, "This module has already been retired")
		}
		if _, err := tx.Exec(ctx, `UPDATE training_modules SET status = ?, updated_at = ? WHERE id = ?`, StatusRetired, s.clock.Now().UnixMicro(), id); err != nil {
			return errs.Wrap(err, "retire module")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.module.retire", "training_module", id, audit.Success,
			map[string]string{"from": m.Status, "title": m.Title}))
	})
	if err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

// Modules lists every module, retired ones included, in display order.
// Callers: programme administrators. Errors: Unauthenticated, Forbidden.
func (s *Service) Modules(ctx context.Context, p *authz.Principal) ([]*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+moduleColumns+moduleFrom+` ORDER BY CASE m.status WHEN 'retired' THEN 1 ELSE 0 END, m.position, v.title, m.id`)
	if err != nil {
		return nil, errs.Wrap(err, "list modules")
	}
	defer rows.Close()
	out := []*Module{}
	for rows.Next() {
		m, err := scanModule(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan module")
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Module returns one module. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden, NotFound.
func (s *Service) Module(ctx context.Context, p *authz.Principal, id string) (*Module, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return getModule(ctx, s.db, id, false)
}

// Versions lists a module's versions, newest first, with how many people
// completed or are taking each. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden, NotFound.
func (s *Service) Versions(ctx context.Context, p *authz.Principal, id string) ([]VersionInfo, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	m, err := getModule(ctx, s.db, id, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT v.version, v.title, v.page_count, v.question_count, v.pass_mark, v.created_by, v.created_at,
		v.published_by, v.published_at,
		(SELECT COUNT(*) FROM training_completions c WHERE c.module_id = v.module_id AND c.version = v.version),
		(SELECT COUNT(*) FROM training_attempts a WHERE a.module_id = v.module_id AND a.version = v.version AND a.state = 'open'),
		(SELECT COUNT(*) FROM training_attempts a WHERE a.module_id = v.module_id AND a.version = v.version)
		FROM training_module_versions v WHERE v.module_id = ? ORDER BY v.version DESC`, id)
	if err != nil {
		return nil, errs.Wrap(err, "list versions")
	}
	defer rows.Close()
	out := []VersionInfo{}
	for rows.Next() {
		var v VersionInfo
		var created, published int64
		if err := rows.Scan(&v.Version, &v.Title, &v.Pages, &v.Questions, &v.PassMark, &v.CreatedBy, &created, &v.PublishedBy, &published,
			&v.Completions, &v.OpenAttempts, &v.TotalAttempts); err != nil {
			return nil, errs.Wrap(err, "scan version")
		}
		v.CreatedAt, v.PublishedAt = utc(created), micros(published)
		v.Current, v.Draft = v.Version == m.CurrentVersion, published == 0
		out = append(out, v)
	}
	return out, rows.Err()
}

// Preview shows a version of a module as members will see it, with the
// knowledge check's answers and warnings about anything members will not
// see. Version 0 means the draft if there is one, else the current version.
// Callers: programme administrators. Errors: Unauthenticated, Forbidden,
// NotFound.
func (s *Service) Preview(ctx context.Context, p *authz.Principal, id string, version int) (*Version, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	m, err := getModule(ctx, s.db, id, false)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		version = m.DraftVersion
		if version == 0 {
			version = m.CurrentVersion
		}
	}
	v := &Version{ModuleID: id, Version: version}
	var published int64
	err = s.db.QueryRow(ctx, `SELECT title, summary, pass_mark, published_at FROM training_module_versions WHERE module_id = ? AND version = ?`,
		id, version).Scan(&v.Title, &v.Summary, &v.PassMark, &published)
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "This module has no version %d", version)
	}
	if err != nil {
		return nil, errs.Wrap(err, "load version")
	}
	v.PublishedAt, v.Draft = micros(published), published == 0
	if v.Pages, v.Warnings, err = loadPages(ctx, s.db, id, version, true); err != nil {
		return nil, err
	}
	if v.Questions, err = loadQuestions(ctx, s.db, id, version); err != nil {
		return nil, err
	}
	if len(v.Pages) == 0 {
		v.Warnings = append(v.Warnings, "Add at least one page before publishing")
	}
	return v, nil
}
