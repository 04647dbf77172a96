package web

import (
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/authz"
)

// The menu shows each user the items their roles give, with the page's own
// item current.
func TestNavigationShowsEachUserTheirOwnItems(t *testing.T) {
	for _, tc := range []struct {
		name         string
		p            *authz.Principal
		nav          string
		sites, admin bool
	}{
		{"member", &authz.Principal{UserID: "m"}, "record", false, false},
		{"authoriser", &authz.Principal{UserID: "a", AuthoriserOf: []string{"s1"}}, "record", true, false},
		{"member again", &authz.Principal{UserID: "m2"}, "record", false, false},
		{"privacy officer", &authz.Principal{UserID: "p", Global: []string{authz.PrivacyOfficer}}, "home", false, true},
		{"administrator", &authz.Principal{UserID: "x", Global: []string{authz.Admin}, AuthoriserOf: []string{"s1"}}, "admin", true, true},
	} {
		{
			got := string((&Page{P: tc.p, Nav: tc.nav}).Navigation())
			if strings.Contains(got, `href="/sites"`) != tc.sites {
				t.Errorf("%s: Manage sites shown = %v, want %v", tc.name, !tc.sites, tc.sites)
			}
			if strings.Contains(got, `href="/admin"`) != tc.admin {
				t.Errorf("%s: Administration shown = %v, want %v", tc.name, !tc.admin, tc.admin)
			}
			if strings.Count(got, `aria-current="page"`) != 1 || !strings.Contains(got, `href="/`+strings.TrimPrefix(tc.nav, "home")+`" aria-current="page"`) {
				t.Errorf("%s: the current item is not %q alone:\n%s", tc.name, tc.nav, got)
			}
		}
	}
}
