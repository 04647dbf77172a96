package training

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// Assignments are computed when they are read, from the rules, the
// published modules and the person's memberships and record role. Nothing
// is stored, so a changed rule, a retired module, a new membership, a new job
// category or a role changed by an amendment (in the access package) applies
// at once, without a recomputation that every one of those changes would
// have to trigger. The inputs are small (tens of modules and rules), and
// reports load them once for all the people they cover.

// catalogue is the published modules and the rules.
type catalogue struct {
	modules  []*pubModule // in display order
	byID     map[string]*pubModule
	versions map[verKey]verInfo // every published version, for attempts at older ones
	rules    []rule
	orgNames map[string]string
}

type pubModule struct {
	id             string
	version        int
	title, summary string
	pages          int
	questions      int
	passMark       int
	Settings
	firstPublished int64
}

type verKey struct {
	module  string
	version int
}

type verInfo struct {
	title     string
	pages     int
	questions int
	passMark  int
}

type rule struct {
	id, moduleID, orgID, category, role string
	created                             int64
}

func loadCatalogue(ctx context.Context, q store.Querier) (*catalogue, error) {
	c := &catalogue{byID: map[string]*pubModule{}, versions: map[verKey]verInfo{}, orgNames: map[string]string{}}
	rows, err := q.Query(ctx, `SELECT m.id, m.current_version, v.title, v.summary, v.page_count, v.question_count, v.pass_mark,
		m.mandatory, m.validity_months, m.blocks_existing_access, m.position, m.first_published_at
		FROM training_modules m JOIN training_module_versions v ON v.module_id = m.id AND v.version = m.current_version
		WHERE m.status = 'published' ORDER BY m.position, v.title, m.id`)
	if err != nil {
		return nil, errs.Wrap(err, "load modules")
	}
	for rows.Next() {
		var m pubModule
		var mand, blocks int
		if err := rows.Scan(&m.id, &m.version, &m.title, &m.summary, &m.pages, &m.questions, &m.passMark, &mand, &m.ValidityMonths,
			&blocks, &m.Position, &m.firstPublished); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "scan module")
		}
		m.Mandatory, m.BlocksExistingAccess = mand == 1, blocks == 1
		c.modules = append(c.modules, &m)
		c.byID[m.id] = &m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load modules")
	}
	rows, err = q.Query(ctx, `SELECT module_id, version, title, page_count, question_count, pass_mark FROM training_module_versions WHERE published_at > 0`)
	if err != nil {
		return nil, errs.Wrap(err, "load versions")
	}
	for rows.Next() {
		var k verKey
		var v verInfo
		if err := rows.Scan(&k.module, &k.version, &v.title, &v.pages, &v.questions, &v.passMark); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "scan version")
		}
		c.versions[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load versions")
	}
	rows, err = q.Query(ctx, `SELECT id, module_id, organisation_id, job_category, record_role, created_at FROM training_rules ORDER BY created_at, id`)
	if err != nil {
		return nil, errs.Wrap(err, "load rules")
	}
	for rows.Next() {
		var r rule
		if err := rows.Scan(&r.id, &r.moduleID, &r.orgID, &r.category, &r.role, &r.created); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "scan rule")
		}
		c.rules = append(c.rules, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load rules")
	}
	rows, err = q.Query(ctx, `SELECT id, name FROM organisations`)
	if err != nil {
		return nil, errs.Wrap(err, "load organisations")
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, errs.Wrap(err, "scan organisation")
		}
		c.orgNames[id] = name
	}
	return c, rows.Err()
}

// version returns what a member taking a module at a version needs.
func (c *catalogue) version(moduleID string, version int) verInfo {
	if v, ok := c.versions[verKey{moduleID, version}]; ok {
		return v
	}
	if m := c.byID[moduleID]; m != nil {
		return verInfo{title: m.title, pages: m.pages, questions: m.questions, passMark: m.passMark}
	}
	return verInfo{}
}

// person is what assignment and the gate need to know about someone.
type person struct {
	userID, email, given, family string
	memberships                  []membership // not deleted, earliest first
	acct                         *account     // nil: no record account
	completions                  map[string]*completion
	attempts                     map[string]*attempt // open attempts by module
}

type membership struct {
	id, siteID, siteName, orgID, orgName, jobTitle, category, status string
	recordRole, finishing                                            string // chosen at invitation
	joined                                                           int64
}

type account struct {
	status, role, orgID string
	created             int64
	deactivated         int64 // when last deactivated; 0 if never
}

type completion struct {
	moduleID  string
	version   int
	completed int64
	expires   int64
}

type attempt struct {
	id, moduleID       string
	version, pagesDone int
	tries, score       int
	passed             bool
}

func (p *person) name() string { return strings.TrimSpace(p.given + " " + p.family) }

// hasAccount reports whether the person holds a record account that is not
// deleted (pending, active or deactivated).
func (p *person) hasAccount() bool { return p.acct != nil && p.acct.status != access.AccountDeleted }

// role is the record role the person trains for: their record account's;
// before they have one, the role their authoriser chose at invitation (of
// their earliest active membership that has one); else Care Professional.
func (p *person) role() string {
	if p.hasAccount() {
		if p.acct.role == access.RoleAdministrator {
			return access.RoleAdministrator
		}
		return access.RoleCareProfessional
	}
	// Before there is an account, the role the authoriser chose at
	// invitation (the earliest active membership that has one).
	for _, m := range p.memberships {
		if m.status == "active" && m.recordRole != "" {
			return m.recordRole
		}
	}
	return access.RoleCareProfessional
}

// roleAt is the record role to ask for with a request for the membership
// m: the one its invitation chose, else as role says. The role and the
// finishing date of a request then come from the same membership.
func (p *person) roleAt(m *membership) string {
	if m.recordRole != "" {
		return m.recordRole
	}
	return p.role()
}

// valid reports whether a completion stands at now (micros).
func (c *completion) valid(now int64) bool { return c != nil && (c.expires == 0 || c.expires > now) }

// peopleWhere selects whose data loadPeople reads: a condition on user_id
// written in this package, never built from input.
type peopleWhere struct {
	cond string // e.g. "user_id = ?"; "" for everyone with a membership
	args []any
}

func onePerson(userID string) peopleWhere { return peopleWhere{"user_id = ?", []any{userID}} }

// peopleIn selects the people with the given ids (not empty).
func peopleIn(d store.Dialect, userIDs []string) peopleWhere {
	cond, args := store.In(d, "user_id", userIDs)
	return peopleWhere{cond, args}
}

func siteMembers(siteID string) peopleWhere {
	return peopleWhere{"user_id IN (SELECT user_id FROM memberships WHERE site_id = ? AND status = 'active')", []any{siteID}}
}

func (w peopleWhere) and(prefix string) (string, []any) {
	if w.cond == "" {
		return "", nil
	}
	return " AND " + prefix + w.cond, w.args
}

// loadPeople reads the people selected (those with a membership that is
// not deleted) with their memberships, record accounts, completions and
// open attempts, in five queries whatever their number.
func loadPeople(ctx context.Context, q store.Querier, w peopleWhere) (map[string]*person, error) {
	out := map[string]*person{}
	cond, args := w.and("m.")
	rows, err := q.Query(ctx, `SELECT m.id, m.user_id, m.site_id, s.name, s.organisation_id, o.name, m.job_title, m.job_category, m.status, m.joined_at,
		u.email, u.given_name, u.family_name, m.record_role, m.finishing_date
		FROM memberships m JOIN sites s ON s.id = m.site_id JOIN organisations o ON o.id = s.organisation_id JOIN users u ON u.id = m.user_id
		WHERE m.status <> 'deleted'`+cond+` ORDER BY m.joined_at, m.id`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "load memberships")
	}
	for rows.Next() {
		var m membership
		var user, email, given, family string
		if err := rows.Scan(&m.id, &user, &m.siteID, &m.siteName, &m.orgID, &m.orgName, &m.jobTitle, &m.category, &m.status, &m.joined,
			&email, &given, &family, &m.recordRole, &m.finishing); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "scan membership")
		}
		p := out[user]
		if p == nil {
			p = &person{userID: user, email: email, given: given, family: family, completions: map[string]*completion{}, attempts: map[string]*attempt{}}
			out[user] = p
		}
		p.memberships = append(p.memberships, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load memberships")
	}
	if len(out) == 0 {
		return out, nil
	}
	cond, args = w.and("")
	rows, err = q.Query(ctx, `SELECT user_id, status, role, created_at, organisation_id, deactivated_at FROM record_accounts WHERE 1 = 1`+cond, args...)
	if err != nil {
		return nil, errs.Wrap(err, "load record accounts")
	}
	for rows.Next() {
		var user string
		var a account
		if err := rows.Scan(&user, &a.status, &a.role, &a.created, &a.orgID, &a.deactivated); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "scan record account")
		}
		if p := out[user]; p != nil {
			p.acct = &a
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load record accounts")
	}
	rows, err = q.Query(ctx, `SELECT user_id, module_id, version, completed_at, expires_at FROM training_completions WHERE 1 = 1`+cond, args...)
	if err != nil {
		return nil, errs.Wrap(err, "load completions")
	}
	for rows.Next() {
		var user string
		var c completion
		if err := rows.Scan(&user, &c.moduleID, &c.version, &c.completed, &c.expires); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "scan completion")
		}
		if p := out[user]; p != nil {
			p.completions[c.moduleID] = &c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "load completions")
	}
	rows, err = q.Query(ctx, `SELECT id, user_id, module_id, version, pages_done, check_tries, check_score, check_passed
		FROM training_attempts WHERE state = 'open'`+cond, args...)
	if err != nil {
		return nil, errs.Wrap(err, "load attempts")
	}
	defer rows.Close()
	for rows.Next() {
		var user string
		var a attempt
		var passed int
		if err := rows.Scan(&a.id, &user, &a.moduleID, &a.version, &a.pagesDone, &a.tries, &a.score, &passed); err != nil {
			return nil, errs.Wrap(err, "scan attempt")
		}
		a.passed = passed == 1
		if p := out[user]; p != nil {
			p.attempts[a.moduleID] = &a
		}
	}
	return out, rows.Err()
}

// loadPerson reads one person. Someone with no membership (an
// administrator, say) is returned with none, and so has nothing assigned.
func loadPerson(ctx context.Context, q store.Querier, userID string) (*person, error) {
	ps, err := loadPeople(ctx, q, onePerson(userID))
	if err != nil {
		return nil, err
	}
	if p := ps[userID]; p != nil {
		return p, nil
	}
	p := &person{userID: userID, completions: map[string]*completion{}, attempts: map[string]*attempt{}}
	err = q.QueryRow(ctx, `SELECT email, given_name, family_name FROM users WHERE id = ?`, userID).Scan(&p.email, &p.given, &p.family)
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "No such person")
	}
	if err != nil {
		return nil, errs.Wrap(err, "load person")
	}
	return p, nil
}

// assigned is a module assigned to a person and why.
type assigned struct {
	m       *pubModule
	reasons []string
	// since is when the module became assigned to them as things stand:
	// its first publication or the earliest rule that assigns it, whichever
	// is later.
	since int64
}

// matches reports whether a rule applies to the person.
func (r *rule) matches(p *person, role string) bool {
	if r.role != "" && r.role != role {
		return false
	}
	for _, m := range p.memberships {
		if (r.orgID == "" || r.orgID == m.orgID) && (r.category == "" || strings.EqualFold(r.category, m.category)) {
			return true
		}
	}
	return false
}

// assign computes the modules assigned to a person, in display order.
func (c *catalogue) assign(p *person) []*assigned {
	if len(p.memberships) == 0 {
		return nil
	}
	role := p.role()
	found := map[string]*assigned{}
	for i := range c.rules {
		r := &c.rules[i]
		m := c.byID[r.moduleID]
		if m == nil || !r.matches(p, role) {
			continue
		}
		a := found[m.id]
		if a == nil {
			a = &assigned{m: m, since: r.created}
			found[m.id] = a
		}
		if d := c.describe(r); !slices.Contains(a.reasons, d) {
			a.reasons = append(a.reasons, d)
		}
		a.since = min(a.since, r.created)
	}
	out := make([]*assigned, 0, len(found))
	for _, m := range c.modules {
		if a := found[m.id]; a != nil {
			a.since = max(a.since, m.firstPublished)
			sort.Strings(a.reasons)
			out = append(out, a)
		}
	}
	return out
}

// roleLabels name the record roles in sentences.
var roleLabels = map[string]string{access.RoleCareProfessional: "Care Professional", access.RoleAdministrator: "Administrator"}

// describe says whom a rule assigns its module to: "assigned to everyone",
// "assigned to Nursing and midwifery at Riverside Community Health", "assigned
// to everyone with the Administrator role", …
func (c *catalogue) describe(r *rule) string {
	return describeRule(r.orgID, c.orgNames[r.orgID], r.category, r.role)
}

func describeRule(orgID, orgName, category, role string) string {
	who := "everyone"
	if category != "" {
		who = category
	}
	s := "assigned to " + who
	if orgID != "" {
		if orgName == "" {
			orgName = "an organisation that no longer exists"
		}
		s += " at " + orgName
	}
	if role != "" {
		label := roleLabels[role]
		if label == "" {
			label = role
		}
		s += " with the " + label + " role"
	}
	return s
}

// view builds a person's view of one assigned module at now.
func (c *catalogue) view(p *person, a *assigned, now time.Time) Assignment {
	m := a.m
	n := now.UnixMicro()
	comp, att := p.completions[m.id], p.attempts[m.id]
	v := Assignment{ModuleID: m.id, Title: m.title, Summary: m.summary, Version: m.version, Mandatory: m.Mandatory,
		Reasons: a.reasons, LastCheckScore: -1}
	ver := c.version(m.id, m.version)
	if att != nil {
		v.Version = att.version
		ver = c.version(m.id, att.version)
	}
	v.Pages, v.HasCheck = ver.pages, ver.questions > 0
	if att != nil {
		v.PagesDone, v.CheckPassed, v.CheckTries, v.LastCheckScore = att.pagesDone, att.passed, att.tries, att.score
	}
	pct := percent(v.Pages, v.PagesDone, v.HasCheck, v.CheckPassed)
	switch {
	case comp.valid(n):
		v.Status, v.Percent = Completed, 100
		if att != nil {
			v.Retaking, v.RetakePercent = true, pct
		}
	case comp != nil:
		v.Status, v.Percent = Lapsed, pct
	case att != nil:
		v.Status, v.Percent = InProgress, pct
	default:
		v.Status = NotStarted
	}
	if comp != nil {
		v.CompletedAt, v.CompletedVersion, v.ExpiresAt = micros(comp.completed), comp.version, micros(comp.expires)
	}
	if v.Status != Completed || v.Retaking {
		v.NextPage, v.CheckNext = next(v.Pages, v.PagesDone, v.HasCheck, v.CheckPassed)
	}
	// A module assigned after the person's record account was created does
	// not hold back the access they already have, unless it says so.
	v.NewSinceAccess = p.hasAccount() && p.acct.created < a.since && !m.BlocksExistingAccess
	v.CountsForAccess = m.Mandatory && !v.NewSinceAccess
	return v
}

// percent is the progress through a version: each page is a step, and the
// knowledge check (when there is one) one more, done only when passed.
func percent(pages, done int, hasCheck, passed bool) int {
	steps, got := pages, min(done, pages)
	if hasCheck {
		steps++
		if passed {
			got++
		}
	}
	if steps == 0 {
		return 0
	}
	return got * 100 / steps
}

// next is where a member carries on: the next page, or the check.
func next(pages, done int, hasCheck, passed bool) (int, bool) {
	if done < pages {
		return done + 1, false
	}
	if hasCheck && !passed {
		return 0, true
	}
	return 0, false
}
