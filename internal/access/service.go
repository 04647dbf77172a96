package access

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// Config holds the request rules; zero fields take the defaults.
type Config struct {
	SLAWorkingDays int    // working days the back office has to action a request (5)
	ServiceName    string // the record's name in request titles and e-mails ("Shared Care Record")
	BaseURL        string // portal address for links in e-mails
}

// Service manages access requests and record accounts.
type Service struct {
	db     *store.DB
	log    *audit.Log
	clock  clock.Clock
	users  *auth.Service
	orgs   *org.Service
	outbox *notify.Outbox
	cal    *Calendar
	cfg    Config
}

// NewService returns the access service. cal may be nil to load the bank
// holidays from the database.
func NewService(ctx context.Context, db *store.DB, log *audit.Log, c clock.Clock, users *auth.Service, orgs *org.Service,
	outbox *notify.Outbox, cal *Calendar, cfg Config) (*Service, error) {
	if cfg.SLAWorkingDays <= 0 {
		cfg.SLAWorkingDays = 5
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "Shared Care Record"
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cal == nil {
		var err error
		if cal, err = LoadCalendar(ctx, db); err != nil {
			return nil, err
		}
	}
	return &Service{db: db, log: log, clock: c, users: users, orgs: orgs, outbox: outbox, cal: cal, cfg: cfg}, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Calendar returns the working-day calendar.
func (s *Service) Calendar() *Calendar { return s.cal }

const requestColumns = `id, ref, type, state, title, organisation_id, COALESCE(site_id, ''), COALESCE(subject_user_id, ''), email, given_name, family_name,
	job_title, phone, role, new_email, finishing_date, reason, leaving_date, notes, attest_direct_care, attest_told_misuse, attest_ig_training,
	submitted_by, submitted_at, validated_by, validated_at, due_at, assigned_to, question, answer, resolution, closed_at, updated_at, resumes_state`

func microsOf(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMicro()
}

func micros(v int64) *time.Time {
	if v == 0 {
		return nil
	}
	t := time.UnixMicro(v).UTC()
	return &t
}

func (s *Service) scanRequest(row interface{ Scan(...any) error }) (*Request, error) {
	var r Request
	var a1, a2, a3 int
	var submitted, validated, due, closed, updated int64
	err := row.Scan(&r.ID, &r.Ref, &r.Type, &r.State, &r.Title, &r.OrganisationID, &r.SiteID, &r.SubjectUserID, &r.Email, &r.GivenName,
		&r.FamilyName, &r.JobTitle, &r.Phone, &r.Role, &r.NewEmail, &r.FinishingDate, &r.Reason, &r.LeavingDate, &r.Notes, &a1, &a2, &a3,
		&r.SubmittedBy, &submitted, &r.ValidatedBy, &validated, &due, &r.AssignedTo, &r.Question, &r.Answer, &r.Resolution, &closed, &updated, &r.resumes)
	if err != nil {
		return nil, err
	}
	r.AttestDirectCare, r.AttestToldMisuse, r.AttestIGTraining = a1 == 1, a2 == 1, a3 == 1
	r.SubmittedAt, r.UpdatedAt = time.UnixMicro(submitted).UTC(), time.UnixMicro(updated).UTC()
	r.ValidatedAt, r.DueAt, r.ClosedAt = micros(validated), micros(due), micros(closed)
	r.Overdue = !Closed(r.State) && due != 0 && s.clock.Now().UnixMicro() > due
	return &r, nil
}

// scanWith scans a row into the destinations asked for and then more.
type scanWith struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (w scanWith) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

func (s *Service) load(ctx context.Context, q store.Querier, id string) (*Request, error) {
	r, err := s.scanRequest(q.QueryRow(ctx, `SELECT `+requestColumns+` FROM access_requests WHERE id = ? OR ref = ?`, id, strings.ToUpper(id)))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such request")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load request")
	}
	return r, nil
}

// canRaise reports whether p may raise requests for people of the
// organisation (at the site, for authorisers).
func (s *Service) canRaise(ctx context.Context, p *authz.Principal, orgID, siteID string) bool {
	if p.StaffsServiceDesk(orgID) {
		return true
	}
	if siteID == "" || !p.Authorises(siteID) {
		return false
	}
	site, err := s.orgs.Site(ctx, p, siteID)
	return err == nil && site.OrganisationID == orgID
}

// canSee reports whether p may see a request: the back office, programme
// administrators and privacy officers see all; the submitter, the person it
// is about, the organisation's service desk and its authorisers see theirs.
func (s *Service) canSee(ctx context.Context, p *authz.Principal, r *Request) bool {
	if p == nil {
		return false
	}
	if p.Has(authz.BackOffice) || p.Has(authz.Admin) || p.Has(authz.PrivacyOfficer) || p.StaffsServiceDesk(r.OrganisationID) {
		return true
	}
	if r.SubmittedBy == p.UserID || (r.SubjectUserID != "" && r.SubjectUserID == p.UserID) {
		return true
	}
	if r.SiteID != "" && p.Authorises(r.SiteID) {
		return true
	}
	// A request raised without a site (by a service desk) about a member
	// of one of the authoriser's sites.
	if r.SubjectUserID != "" && len(p.AuthoriserOf) > 0 {
		var n int
		q := `SELECT COUNT(*) FROM memberships WHERE user_id = ? AND status <> 'deleted' AND site_id IN (?` + strings.Repeat(", ?", len(p.AuthoriserOf)-1) + `)`
		args := []any{r.SubjectUserID}
		for _, id := range p.AuthoriserOf {
			args = append(args, id)
		}
		if err := s.db.QueryRow(ctx, q, args...).Scan(&n); err == nil && n > 0 {
			return true
		}
	}
	return false
}

// Get returns a request and its history. Errors: NotFound, Forbidden.
func (s *Service) Get(ctx context.Context, p *authz.Principal, id string) (*Request, []Event, error) {
	if p == nil {
		return nil, nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	r, err := s.load(ctx, s.db, id)
	if err != nil {
		return nil, nil, err
	}
	if !s.canSee(ctx, p, r) {
		return nil, nil, errs.E(errs.Forbidden, "You do not have permission to see this request")
	}
	rows, err := s.db.Query(ctx, `SELECT at, actor_id, actor, from_state, to_state, note FROM access_request_events WHERE request_id = ? ORDER BY step`, r.ID)
	if err != nil {
		return nil, nil, errs.Wrap(err, "request history")
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&at, &e.ActorID, &e.Actor, &e.FromState, &e.ToState, &e.Note); err != nil {
			return nil, nil, errs.Wrap(err, "request history")
		}
		e.At = time.UnixMicro(at).UTC()
		evs = append(evs, e)
	}
	return r, evs, rows.Err()
}

// List returns the requests p may see that match f, newest first, and the
// cursor of the next page. The back office sees everything; others see
// what canSee allows.
func (s *Service) List(ctx context.Context, p *authz.Principal, f Filter) ([]*Request, string, error) {
	if p == nil {
		return nil, "", errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var where []string
	var args []any
	if !(p.Has(authz.BackOffice) || p.Has(authz.Admin) || p.Has(authz.PrivacyOfficer)) {
		scope := []string{"submitted_by = ?", "subject_user_id = ?"}
		args = append(args, p.UserID, p.UserID)
		for _, o := range p.ServiceDeskOf {
			scope = append(scope, "organisation_id = ?")
			args = append(args, o)
		}
		for _, site := range p.AuthoriserOf {
			scope = append(scope, "site_id = ?")
			args = append(args, site)
		}
		if n := len(p.AuthoriserOf); n > 0 {
			// Requests without a site (raised by a service desk) about
			// members of the authoriser's sites.
			scope = append(scope, `subject_user_id IN (SELECT user_id FROM memberships WHERE status <> 'deleted' AND site_id IN (?`+strings.Repeat(", ?", n-1)+`))`)
			for _, site := range p.AuthoriserOf {
				args = append(args, site)
			}
		}
		where = append(where, "("+strings.Join(scope, " OR ")+")")
	}
	now := s.clock.Now().UnixMicro()
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.OrganisationID != "" {
		add("organisation_id = ?", f.OrganisationID)
	}
	switch f.State {
	case "":
	case "open":
		add(openSQL)
	default:
		add("state = ?", f.State)
	}
	switch f.AssignedTo {
	case "":
	case "none":
		add("assigned_to = ''")
	default:
		add("assigned_to = ?", f.AssignedTo)
	}
	if f.Overdue {
		add(overdueSQL, now)
	}
	if f.SubmittedBy != "" {
		add("submitted_by = ?", f.SubmittedBy)
	}
	if f.Subject != "" {
		add("subject_user_id = ?", f.Subject)
	}
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		// Typed % and _ are searched for, not wildcards.
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		add(`(email LIKE ? ESCAPE '\' OR LOWER(given_name || ' ' || family_name) LIKE ? ESCAPE '\' OR LOWER(ref) LIKE ? ESCAPE '\')`, like, like, like)
	}
	if f.Before != "" {
		var at int64
		var id string
		if _, err := fmt.Sscanf(f.Before, "%d.%s", &at, &id); err != nil {
			return nil, "", errs.E(errs.Invalid, "The page cursor is not valid")
		}
		add("(submitted_at < ? OR (submitted_at = ? AND id < ?))", at, at, id)
	}
	// The names the list shows, in the same query.
	q := `SELECT ` + requestColumns + `, (SELECT name FROM organisations o WHERE o.id = access_requests.organisation_id),
		COALESCE((SELECT name FROM sites s WHERE s.id = access_requests.site_id), ''),
		COALESCE((SELECT TRIM(given_name || ' ' || family_name) || ' (' || email || ')' FROM users u WHERE u.id = access_requests.assigned_to), '')
		FROM access_requests`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY submitted_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, "", errs.Wrap(err, "list requests")
	}
	defer rows.Close()
	out := []*Request{}
	for rows.Next() {
		var org, site, assignee string
		r, err := s.scanRequest(scanWith{rows, []any{&org, &site, &assignee}})
		if err != nil {
			return nil, "", errs.Wrap(err, "scan request")
		}
		r.OrganisationName, r.SiteName, r.AssigneeName = org, site, assignee
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", errs.Wrap(err, "list requests")
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = fmt.Sprintf("%d.%s", last.SubmittedAt.UnixMicro(), last.ID)
	}
	return out, next, nil
}

// OpenSQL is openSQL for a query of another package that reads requests
// under an alias (e.g. "r."): the one definition of an open request.
func OpenSQL(alias string) string {
	return alias + `state NOT IN ('completed', 'rejected', 'cancelled')`
}

// openSQL selects requests that are not closed (see Closed); overdueSQL
// those of them past their SLA at the time given.
const (
	openSQL    = `state NOT IN ('completed', 'rejected', 'cancelled')` // as OpenSQL("")
	overdueSQL = openSQL + ` AND due_at <> 0 AND due_at < ?`
)

// Counts returns how many requests of the region are open and how many of
// those are overdue, in one query, for the top of the back-office queue.
func (s *Service) Counts(ctx context.Context) (open, overdue int, err error) {
	err = s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_at <> 0 AND due_at < ? THEN 1 ELSE 0 END), 0)
		FROM access_requests WHERE `+openSQL, s.clock.Now().UnixMicro()).Scan(&open, &overdue)
	if err != nil {
		return 0, 0, errs.Wrap(err, "count requests")
	}
	return open, overdue, nil
}

// HasOpenRequest reports whether a person (by account or e-mail) has a
// request that is not closed, inside or outside a transaction.
func (s *Service) HasOpenRequest(ctx context.Context, q store.Querier, userID, email string) (bool, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM access_requests WHERE (subject_user_id = ? OR email = ?) AND `+openSQL,
		userID, email).Scan(&n); err != nil {
		return false, errs.Wrap(err, "check open requests")
	}
	return n > 0, nil
}

// OverdueCount counts open requests past their SLA, for metrics.
func (s *Service) OverdueCount(ctx context.Context) (int, error) {
	_, n, err := s.Counts(ctx)
	return n, err
}

// Account returns a person's record account. Errors: NotFound.
func (s *Service) Account(ctx context.Context, userID string) (*RecordAccount, error) {
	return s.accountTx(ctx, s.db, userID)
}

const accountColumns = `id, user_id, organisation_id, username, role, status, status_reason, finishing_date, activated_at, last_used_at, created_at, updated_at`

func (s *Service) accountTx(ctx context.Context, q store.Querier, userID string) (*RecordAccount, error) {
	a, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountColumns+` FROM record_accounts WHERE user_id = ?`, userID))
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "This person has no record account")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load record account")
	}
	return a, nil
}

// scanAccount reads a record account selected as accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (*RecordAccount, error) {
	var a RecordAccount
	var act, used, created, updated int64
	err := row.Scan(&a.ID, &a.UserID, &a.OrganisationID, &a.Username, &a.Role, &a.Status, &a.StatusReason, &a.FinishingDate, &act, &used, &created, &updated)
	if err != nil {
		return nil, err
	}
	a.ActivatedAt, a.LastUsedAt = micros(act), micros(used)
	a.CreatedAt, a.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return &a, nil
}
