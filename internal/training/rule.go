package training

import (
	"context"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

const ruleColumns = `r.id, r.module_id, COALESCE(v.title, ''), r.organisation_id, COALESCE(o.name, ''), r.job_category, r.record_role, r.created_by, r.created_at`

const ruleFrom = ` FROM training_rules r JOIN training_modules m ON m.id = r.module_id
	LEFT JOIN training_module_versions v ON v.module_id = m.id AND v.version = CASE WHEN m.current_version > 0 THEN m.current_version ELSE m.draft_version END
	LEFT JOIN organisations o ON o.id = r.organisation_id`

func scanRule(row interface{ Scan(...any) error }) (*Rule, error) {
	var r Rule
	var created int64
	if err := row.Scan(&r.ID, &r.ModuleID, &r.ModuleTitle, &r.OrganisationID, &r.OrganisationName, &r.JobCategory, &r.RecordRole,
		&r.CreatedBy, &created); err != nil {
		return nil, err
	}
	r.CreatedAt = utc(created)
	r.Description = describeRule(r.OrganisationID, r.OrganisationName, r.JobCategory, r.RecordRole)
	return &r, nil
}

// Rules lists the assignment rules, of one module or (moduleID "") of all,
// by module and then by whom they assign it to. Callers: programme
// administrators. Errors: Unauthenticated, Forbidden.
func (s *Service) Rules(ctx context.Context, p *authz.Principal, moduleID string) ([]*Rule, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	q := `SELECT ` + ruleColumns + ruleFrom
	var args []any
	if moduleID != "" {
		q += ` WHERE r.module_id = ?`
		args = append(args, moduleID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY m.position, v.title, r.module_id, o.name, r.job_category, r.record_role`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "list rules")
	}
	defer rows.Close()
	out := []*Rule{}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, errs.Wrap(err, "scan rule")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddRule assigns a module to the members a rule describes. It applies at
// once: assignments are computed from the rules when read. Rules may be
// added to a draft module before it is published. Callers: programme
// administrators. Errors: Unauthenticated, Forbidden, NotFound (module),
// Invalid, Conflict (the same rule exists; retired module).
func (s *Service) AddRule(ctx context.Context, p *authz.Principal, in RuleInput) (*Rule, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	var v errs.Validation
	in.OrganisationID = strings.TrimSpace(in.OrganisationID)
	in.JobCategory = strings.Join(strings.Fields(in.JobCategory), " ")
	switch {
	case utf8.RuneCountInString(in.JobCategory) > 100:
		v.Add("job_category", "The job category must be 100 characters or fewer")
	case strings.ContainsFunc(in.JobCategory, unicode.IsControl) || strings.ContainsAny(in.JobCategory, "<>") || !utf8.ValidString(in.JobCategory):
		v.Add("job_category", "The job category must not contain < > or control characters")
	}
	if in.RecordRole != "" && !slices.Contains(access.Roles, in.RecordRole) {
		v.Add("record_role", "Choose the record role: Care Professional, Administrator, or any")
	}
	id := ident.New()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		m, err := getModule(ctx, tx, in.ModuleID, true)
		if errs.CodeOf(err) == errs.NotFound {
			v.Add("module_id", "Choose a training module")
		} else if err != nil {
			return err
		}
		if in.OrganisationID != "" {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM organisations WHERE id = ?`, in.OrganisationID).Scan(&n); err != nil {
				return errs.Wrap(err, "find organisation")
			}
			if n == 0 {
				v.Add("organisation_id", "Choose an organisation from the list, or any organisation")
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if m.Status == StatusRetired {
			return errs.E(errs.Conflict, "This module has been retired: it can no longer be assigned")
		}
		var dup int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM training_rules WHERE module_id = ? AND organisation_id = ? AND LOWER(job_category) = LOWER(?)
			AND record_role = ?`, in.ModuleID, in.OrganisationID, in.JobCategory, in.RecordRole).Scan(&dup); err != nil {
			return errs.Wrap(err, "check rules")
		}
		if dup > 0 {
			return errs.E(errs.Conflict, "The module is already assigned by this rule")
		}
		_, err = tx.Exec(ctx, `INSERT INTO training_rules (id, module_id, organisation_id, job_category, record_role, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, in.ModuleID, in.OrganisationID, in.JobCategory, in.RecordRole, p.UserID, s.clock.Now().UnixMicro())
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "The module is already assigned by this rule")
		}
		if err != nil {
			return errs.Wrap(err, "insert rule")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.rule.add", "training_module", in.ModuleID, audit.Success,
			map[string]string{"rule_id": id, "organisation_id": in.OrganisationID, "job_category": in.JobCategory, "record_role": in.RecordRole}))
	})
	if err != nil {
		return nil, err
	}
	r, err := scanRule(s.db.QueryRow(ctx, `SELECT `+ruleColumns+ruleFrom+` WHERE r.id = ?`, id))
	if err != nil {
		return nil, errs.Wrap(err, "load rule")
	}
	return r, nil
}

// RemoveRule deletes a rule; it applies at once. Progress and completions
// are kept, and count again if the module is assigned again. Callers:
// programme administrators. Errors: Unauthenticated, Forbidden, NotFound.
func (s *Service) RemoveRule(ctx context.Context, p *authz.Principal, ruleID string) error {
	if err := requireAdmin(p); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		r, err := scanRule(tx.QueryRow(ctx, `SELECT `+ruleColumns+ruleFrom+` WHERE r.id = ?`, ruleID))
		if store.IsNoRows(err) {
			return errs.E(errs.NotFound, "No such rule")
		}
		if err != nil {
			return errs.Wrap(err, "load rule")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM training_rules WHERE id = ?`, ruleID); err != nil {
			return errs.Wrap(err, "delete rule")
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), "training.rule.remove", "training_module", r.ModuleID, audit.Success,
			map[string]string{"rule_id": r.ID, "organisation_id": r.OrganisationID, "job_category": r.JobCategory, "record_role": r.RecordRole}))
	})
}

// JobCategories lists the job categories in use, in memberships and in
// rules, for the rule form. Callers: programme administrators.
// Errors: Unauthenticated, Forbidden.
func (s *Service) JobCategories(ctx context.Context, p *authz.Principal) ([]string, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT job_category FROM memberships WHERE job_category <> '' UNION SELECT job_category FROM training_rules WHERE job_category <> ''`)
	if err != nil {
		return nil, errs.Wrap(err, "list job categories")
	}
	defer rows.Close()
	seen := map[string]bool{}
	out := []string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, errs.Wrap(err, "scan job category")
		}
		if k := strings.ToLower(c); !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out, rows.Err()
}
