package training

import (
	"context"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// SiteProgress lists a site's current members with their training as
// "completed / assigned", the titles still outstanding, and whether their
// training allows record access, by name. Callers: authorisers of the site
// and programme administrators. Errors: Unauthenticated, Forbidden,
// NotFound.
func (s *Service) SiteProgress(ctx context.Context, p *authz.Principal, siteID string) ([]MemberProgress, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	if !p.IsAdmin() && !p.Authorises(siteID) {
		return nil, errs.E(errs.Forbidden, "Only the site's authorisers and programme administrators may see its members' training")
	}
	people, err := loadPeople(ctx, s.db, siteMembers(siteID))
	if err != nil {
		return nil, err
	}
	// A site with members exists; only an empty list asks whether it does
	// (the portal's pages have read the site already).
	if len(people) == 0 {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM sites WHERE id = ?`, siteID).Scan(&n); err != nil {
			return nil, errs.Wrap(err, "find site")
		}
		if n == 0 {
			return nil, errs.E(errs.NotFound, "No such site")
		}
	}
	cat, err := loadCatalogue(ctx, s.db)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := []MemberProgress{}
	for _, per := range people {
		mp := MemberProgress{UserID: per.userID, Name: per.name(), Email: per.email, Outstanding: []string{}}
		for _, m := range per.memberships {
			if m.siteID == siteID && m.status == "active" {
				mp.JobTitle, mp.JobCategory = m.jobTitle, m.category
			}
		}
		o := s.summarise(cat, per, now)
		mp.Assigned, mp.Completed, mp.AccessAllowed = o.Assigned, o.Completed, o.AccessAllowed
		for _, a := range o.Modules {
			if a.Status != Completed {
				mp.Outstanding = append(mp.Outstanding, a.Title)
			}
		}
		out = append(out, mp)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := people[out[i].UserID], people[out[j].UserID]
		if x, y := strings.ToLower(a.family), strings.ToLower(b.family); x != y {
			return x < y
		}
		if x, y := strings.ToLower(a.given), strings.ToLower(b.given); x != y {
			return x < y
		}
		return out[i].Email < out[j].Email
	})
	return out, nil
}

// CompletionReport is completion by organisation and module across the
// region: for each organisation and each module assigned to any of its
// members, how many have it assigned, completed, in progress, not started
// and lapsed. A person who belongs to several organisations counts in each.
// Callers: programme administrators. Errors: Unauthenticated, Forbidden.
func (s *Service) CompletionReport(ctx context.Context, p *authz.Principal) ([]CompletionRow, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return s.completionReport(ctx, s.db)
}

func (s *Service) completionReport(ctx context.Context, q store.Querier) ([]CompletionRow, error) {
	cat, err := loadCatalogue(ctx, q)
	if err != nil {
		return nil, err
	}
	people, err := loadPeople(ctx, q, peopleWhere{})
	if err != nil {
		return nil, err
	}
	type key struct{ org, module string }
	rows := map[key]*CompletionRow{}
	now := s.clock.Now()
	for _, per := range people {
		orgs := map[string]string{}
		for _, m := range per.memberships {
			orgs[m.orgID] = m.orgName
		}
		for _, a := range cat.assign(per) {
			v := cat.view(per, a, now)
			for orgID, orgName := range orgs {
				k := key{orgID, a.m.id}
				r := rows[k]
				if r == nil {
					r = &CompletionRow{OrganisationID: orgID, Organisation: orgName, ModuleID: a.m.id, Module: a.m.title}
					rows[k] = r
				}
				r.Assigned++
				switch v.Status {
				case Completed:
					r.Completed++
				case InProgress:
					r.InProgress++
				case Lapsed:
					r.Lapsed++
				default:
					r.NotStarted++
				}
			}
		}
	}
	order := map[string]int{}
	for i, m := range cat.modules {
		order[m.id] = i
	}
	out := make([]CompletionRow, 0, len(rows))
	for _, r := range rows {
		r.Percent = r.Completed * 100 / r.Assigned
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Organisation != b.Organisation {
			return a.Organisation < b.Organisation
		}
		if a.OrganisationID != b.OrganisationID {
			return a.OrganisationID < b.OrganisationID
		}
		return order[a.ModuleID] < order[b.ModuleID]
	})
	return out, nil
}

// CSVHeader is the header row of the completion report's CSV export.
var CSVHeader = []string{"organisation", "organisation_id", "module", "module_id", "assigned", "completed", "in_progress", "not_started",
	"lapsed", "percent_complete"}

// CSVRow renders a report row as a CSV record matching CSVHeader. Cells a
// spreadsheet would run as a formula (a module title beginning with "=",
// say) are prefixed with a quote.
func CSVRow(r CompletionRow) []string {
	row := []string{r.Organisation, r.OrganisationID, r.Module, r.ModuleID, strconv.Itoa(r.Assigned), strconv.Itoa(r.Completed),
		strconv.Itoa(r.InProgress), strconv.Itoa(r.NotStarted), strconv.Itoa(r.Lapsed), strconv.Itoa(r.Percent)}
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}

// ExportCompletionCSV writes the completion report as CSV. Callers:
// programme administrators. Errors: Unauthenticated, Forbidden; a failure
// to write is returned as it is.
func (s *Service) ExportCompletionCSV(ctx context.Context, p *authz.Principal, w io.Writer) error {
	rows, err := s.CompletionReport(ctx, p)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(CSVRow(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
