package web

import (
	"testing"

	accessreq "github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/authz"
)

// The service desk may answer and cancel its organisation's requests (the
// domain allows it), so the page offers it.
func TestRequestActionsOfferTheDeskAnswerAndCancel(t *testing.T) {
	desk := &authz.Principal{UserID: "d1", ServiceDeskOf: []string{"org1"}}
	r := &accessreq.Request{OrganisationID: "org1", SubmittedBy: "someone-else", State: accessreq.StateNeedsInformation}
	if a := actionsFor(desk, r); !a.Answer || !a.Cancel {
		t.Fatalf("desk on a request waiting for information: %+v", a)
	}
	other := &authz.Principal{UserID: "x", ServiceDeskOf: []string{"org2"}}
	if a := actionsFor(other, r); a.Answer || a.Cancel {
		t.Fatalf("another organisation's desk: %+v", a)
	}
}
