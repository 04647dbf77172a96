package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// The demo's partner applications, one in each open or closed state that
// needs a person's next step: a submitted one that misses a prerequisite (so
// approval is refused until it is corrected), a rejected one, and an approved
// one waiting to go live.
var applications = []struct {
	in       onboarding.ApplicationInput
	decision string // "", "approve" or "reject"
	meeting  string
	minutes  string
}{
	{in: onboarding.ApplicationInput{Name: "Kingfisher Care Homes", ODSCode: "VNK42", OrganisationType: "care_home", SizeBand: "B",
		ContactName: "Joanne Pike", ContactEmail: "joanne.pike@nhs.net", ProvidesDirectCare: true,
		DSPTStatus: onboarding.DSPTApproachingStandards, HSCNConnected: true, IndividualEmailAccounts: true,
		EmailDomains: []string{"nhs.net"}, ISALevel: org.ISAReadOnly, Routing: org.RoutingSiteAuthoriser,
		Notes: "Three homes; the registered manager of each would be its site authoriser. DSPT action plan due to be published next month."}},
	{in: onboarding.ApplicationInput{Name: "Brightsmile Dental Group", ODSCode: "V81234", OrganisationType: "other", SizeBand: "A",
		ContactName: "Omar Haddad", ContactEmail: "omar.haddad@nhs.net", ProvidesDirectCare: true,
		DSPTStatus: onboarding.DSPTNotPublished, HSCNConnected: false, IndividualEmailAccounts: false,
		EmailDomains: []string{"brightsmile-dental.co.uk"}, ISALevel: org.ISAReadOnly, Routing: org.RoutingSiteAuthoriser},
		decision: "reject", meeting: "2026-01-22",
		minutes: "Not approved: no HSCN connection, no published DSPT assessment and shared practice mailboxes. The group would welcome a new application once these are in place."},
	{in: onboarding.ApplicationInput{Name: "Eastbrook Mental Health NHS Trust", ODSCode: "RV3", OrganisationType: "mental_health_trust", SizeBand: "D",
		ContactName: "Dr Miriam Cole", ContactEmail: "miriam.cole@nhs.net", ProvidesDirectCare: true,
		DSPTStatus: onboarding.DSPTStandardsMet, HSCNConnected: true, IndividualEmailAccounts: true,
		EmailDomains: []string{"nhs.net"}, ISALevel: org.ISAWrite, Routing: org.RoutingServiceDesk},
		decision: "approve", meeting: "2026-02-26",
		minutes: "Approved with a write information sharing agreement. Implementation to start with the crisis and home treatment teams."},
}

// loadOnboarding enters the demo applications as the demo administrator.
// The audit log of its own writes into the same chain, inside each change's
// transaction, as every log does.
func loadOnboarding(ctx context.Context, db *store.DB, orgs *org.Service, admin *authz.Principal) error {
	c := clock.System{}
	log := audit.NewLog(db, c)
	defer log.Close()
	svc := onboarding.NewService(db, log, c, orgs)
	for _, a := range applications {
		app, err := svc.Submit(ctx, admin, a.in)
		if err != nil {
			return fmt.Errorf("demo application %s: %w", a.in.Name, err)
		}
		// The meetings are in the past; a clock set earlier still gets a
		// meeting held today rather than one in the future.
		meeting := a.meeting
		if today := c.Now().Format(time.DateOnly); meeting > today {
			meeting = today
		}
		d := onboarding.Decision{MeetingDate: meeting, Minutes: a.minutes}
		switch a.decision {
		case "approve":
			_, err = svc.Approve(ctx, admin, app.ID, d)
		case "reject":
			_, err = svc.Reject(ctx, admin, app.ID, d)
		}
		if err != nil {
			return fmt.Errorf("demo decision on %s: %w", a.in.Name, err)
		}
	}
	return nil
}
