package training

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// MyTraining is the member's home page: their assigned modules with
// progress and reasons, and whether their training allows record access.
// Callers: anyone signed in (someone with no membership has nothing
// assigned). Errors: Unauthenticated.
func (s *Service) MyTraining(ctx context.Context, p *authz.Principal) (*Overview, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	return s.overview(ctx, s.db, p.UserID)
}

// MemberTraining is another person's training, for the people who look
// after them: programme administrators, and authorisers of a site where
// they are a member. Errors: Unauthenticated, Forbidden, NotFound.
func (s *Service) MemberTraining(ctx context.Context, p *authz.Principal, userID string) (*Overview, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	if p.UserID != userID && !p.IsAdmin() {
		ok, err := s.authorisesMember(ctx, p, userID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.E(errs.Forbidden, "Only the authorisers of this person's site and programme administrators may see their training")
		}
	}
	return s.overview(ctx, s.db, userID)
}

// authorisesMember reports whether p authorises a site where the person has
// a membership (of any status: an authoriser reactivates from the history).
func (s *Service) authorisesMember(ctx context.Context, p *authz.Principal, userID string) (bool, error) {
	if !p.IsAuthoriser() {
		return false, nil
	}
	rows, err := s.db.Query(ctx, `SELECT site_id FROM memberships WHERE user_id = ?`, userID)
	if err != nil {
		return false, errs.Wrap(err, "read memberships")
	}
	defer rows.Close()
	for rows.Next() {
		var site string
		if err := rows.Scan(&site); err != nil {
			return false, errs.Wrap(err, "read memberships")
		}
		if p.Authorises(site) {
			return true, nil
		}
	}
	return false, rows.Err()
}

func (s *Service) overview(ctx context.Context, q store.Querier, userID string) (*Overview, error) {
	cat, err := loadCatalogue(ctx, q)
	if err != nil {
		return nil, err
	}
	per, err := loadPerson(ctx, q, userID)
	if err != nil {
		return nil, err
	}
	o := s.summarise(cat, per, s.clock.Now())
	var ref, state string
	err = q.QueryRow(ctx, `SELECT ref, state FROM access_requests WHERE subject_user_id = ? AND source_key LIKE ? ORDER BY submitted_at DESC, id DESC LIMIT 1`,
		userID, sourcePrefix+userID+":%").Scan(&ref, &state)
	if err != nil && !store.IsNoRows(err) {
		return nil, errs.Wrap(err, "read request")
	}
	o.RequestRef, o.RequestState = ref, state
	return o, nil
}

// summarise builds a person's overview at now.
func (s *Service) summarise(cat *catalogue, per *person, now time.Time) *Overview {
	o := &Overview{UserID: per.userID, Name: per.name(), Email: per.email, Modules: []Assignment{}}
	var blocking []Assignment
	for _, a := range cat.assign(per) {
		v := cat.view(per, a, now)
		o.Modules = append(o.Modules, v)
		if v.Status == Completed {
			o.Completed++
		} else if v.CountsForAccess {
			blocking = append(blocking, v)
		}
	}
	o.Assigned = len(o.Modules)
	o.Outstanding = o.Assigned - o.Completed
	o.AllComplete = o.Outstanding == 0
	o.AccessAllowed, o.AccessReason = allowed(blocking)
	switch {
	case o.Assigned == 0:
		o.StatusLine = "No training modules are assigned to you."
	case o.AllComplete:
		o.StatusLine = "All modules complete."
	case !o.AccessAllowed && per.hasAccount():
		o.StatusLine = fmt.Sprintf("You have outstanding modules to complete below before you can use the %s again.", s.cfg.ServiceName)
	case !o.AccessAllowed:
		o.StatusLine = fmt.Sprintf("You have outstanding modules to complete below before you will be given access to the %s. Please complete all course content shown.", s.cfg.ServiceName)
	default:
		o.StatusLine = fmt.Sprintf("You have outstanding modules to complete below. They do not affect your access to the %s.", s.cfg.ServiceName)
	}
	return o
}

// allowed says whether training allows record access given the modules
// that count for it and are not complete, and if not, why.
func allowed(blocking []Assignment) (bool, string) {
	if len(blocking) == 0 {
		return true, ""
	}
	var lapsed, open []string
	for _, b := range blocking {
		if b.Status == Lapsed {
			lapsed = append(lapsed, b.Title)
		} else {
			open = append(open, b.Title)
		}
	}
	var parts []string
	if len(lapsed) > 0 {
		parts = append(parts, fmt.Sprintf("training has lapsed: %s", strings.Join(lapsed, ", ")))
	}
	if len(open) > 0 {
		noun := "module is"
		if len(open) > 1 {
			noun = "modules are"
		}
		parts = append(parts, fmt.Sprintf("%d mandatory %s not complete: %s", len(open), noun, strings.Join(open, ", ")))
	}
	r := strings.Join(parts, "; ")
	return false, strings.ToUpper(r[:1]) + r[1:]
}

// AccessAllowed reports whether a person's training allows them to use the
// record: every assigned mandatory module is complete and not lapsed, except
// modules assigned after their record account was created that do not block
// existing access. When it does not, the reason says which modules. It
// fails closed: if the training cannot be read, access is not allowed.
// Callers: the record (the account's own state is checked there).
func (s *Service) AccessAllowed(ctx context.Context, userID string) (bool, string) {
	cat, err := loadCatalogue(ctx, s.db)
	if err != nil {
		return false, "Training could not be checked; try again"
	}
	per, err := loadPerson(ctx, s.db, userID)
	if err != nil {
		return false, "Training could not be checked; try again"
	}
	o := s.summarise(cat, per, s.clock.Now())
	return o.AccessAllowed, o.AccessReason
}

// memberModule finds a module for its member: it must exist, be published
// and be assigned to them. It returns the catalogue, the person and the
// assignment. Errors: NotFound (no such module, or never published),
// Conflict (retired), Forbidden (not assigned to them).
func memberModule(ctx context.Context, q store.Querier, userID, moduleID string) (*catalogue, *person, *assigned, error) {
	var status string
	var current int
	err := q.QueryRow(ctx, `SELECT status, current_version FROM training_modules WHERE id = ?`, moduleID).Scan(&status, &current)
	switch {
	case store.IsNoRows(err) || (err == nil && current == 0):
		return nil, nil, nil, errs.E(errs.NotFound, "No such training module")
	case err != nil:
		return nil, nil, nil, errs.Wrap(err, "load module")
	case status == StatusRetired:
		return nil, nil, nil, errs.E(errs.Conflict, "This module has been retired and is no longer part of your training")
	}
	cat, err := loadCatalogue(ctx, q)
	if err != nil {
		return nil, nil, nil, err
	}
	per, err := loadPerson(ctx, q, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	as := cat.assign(per)
	i := slices.IndexFunc(as, func(a *assigned) bool { return a.m.id == moduleID })
	if i < 0 {
		return nil, nil, nil, errs.E(errs.Forbidden, "This module is not assigned to you")
	}
	return cat, per, as[i], nil
}
