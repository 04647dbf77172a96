package auth_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestNormaliseEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"jane.smith@nhs.net":                  true,
		"  Jane.Smith@NHS.Net ":               true,
		"a+tag@sub.gov.uk":                    true,
		"":                                    false,
		"jane":                                false,
		"jane@nhs":                            false,
		"@nhs.net":                            false,
		"jane@@nhs.net":                       false,
		"Jane <jane@nhs.net>":                 false,
		"jane smith@nhs.net":                  false,
		"jane@nhs.net, bob@nhs.net":           false,
		strings.Repeat("a", 250) + "@nhs.net": false,
	} {
		got, ok := auth.NormaliseEmail(in)
		if ok != want {
			t.Errorf("NormaliseEmail(%q) ok = %v, want %v", in, ok, want)
		}
		if ok && got != strings.ToLower(strings.TrimSpace(in)) {
			t.Errorf("NormaliseEmail(%q) = %q, want it lower-cased and trimmed", in, got)
		}
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "  Jane.Smith@NHS.net ", GivenName: " Jane ", FamilyName: "Smith",
			Roles: []string{auth.RolePrivacyOfficer, auth.RoleBackOffice}, Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "jane.smith@nhs.net" || u.GivenName != "Jane" || u.Status != auth.StatusActive || !u.CreatedAt.Equal(t0) {
			t.Fatalf("created user %+v", u)
		}
		got, err := e.svc.UserByEmail(ctx, "JANE.SMITH@nhs.net")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != u.ID || got.Name() != "Jane Smith" || got.MFAEnabled || got.MustChangePassword {
			t.Fatalf("loaded user %+v", got)
		}
		if want := []string{auth.RoleBackOffice, auth.RolePrivacyOfficer}; !slices.Equal(got.Roles, want) {
			t.Fatalf("roles %v, want %v", got.Roles, want)
		}
		if !got.HasRole(auth.RoleBackOffice) || got.HasRole(auth.RoleAdmin) {
			t.Fatalf("HasRole wrong for %v", got.Roles)
		}
		byID, err := e.svc.User(ctx, u.ID)
		if err != nil || byID.Email != u.Email {
			t.Fatalf("User(id) = %+v, %v", byID, err)
		}

		// The e-mail address is unique whatever its case; nothing is written.
		_, err = e.svc.CreateUser(ctx, system, auth.NewUser{Email: "jane.SMITH@nhs.net", GivenName: "Other", FamilyName: "Person"})
		wantCode(t, err, errs.Conflict)
		fieldMessage(t, err, "email")
		if n, _ := e.svc.CountUsers(ctx); n != 1 {
			t.Fatalf("%d users after a refused duplicate, want 1", n)
		}

		evs := events(t, db, audit.Filter{Action: "user.create"})
		if len(evs) != 1 || evs[0].ObjectID != u.ID || evs[0].Actor != system.Email ||
			evs[0].Detail["email"] != "jane.smith@nhs.net" || evs[0].Detail["roles"] != "privacy_officer,back_office" {
			t.Fatalf("user.create events %+v", evs)
		}

		if _, err := e.svc.User(ctx, "no-such-id"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("User(unknown) error %v, want not found", err)
		}
		if _, err := e.svc.UserByEmail(ctx, "nobody@nhs.net"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("UserByEmail(unknown) error %v, want not found", err)
		}
		verifyAudit(t, db)
	})
}

func TestCreateUserValidation(t *testing.T) {
	t.Parallel()
	ok := auth.NewUser{Email: "sam@nhs.net", GivenName: "Sam", FamilyName: "Jones"}
	for _, c := range []struct {
		name  string
		edit  func(*auth.NewUser)
		field string
	}{
		{"no e-mail", func(n *auth.NewUser) { n.Email = "" }, "email"},
		{"bad e-mail", func(n *auth.NewUser) { n.Email = "sam at nhs.net" }, "email"},
		{"e-mail without a dot in the domain", func(n *auth.NewUser) { n.Email = "sam@localhost" }, "email"},
		{"display-name e-mail", func(n *auth.NewUser) { n.Email = "Sam <sam@nhs.net>" }, "email"},
		{"no given name", func(n *auth.NewUser) { n.GivenName = "  " }, "given_name"},
		{"no family name", func(n *auth.NewUser) { n.FamilyName = "" }, "family_name"},
		{"name too long", func(n *auth.NewUser) { n.FamilyName = strings.Repeat("x", 101) }, "family_name"},
		{"markup in name", func(n *auth.NewUser) { n.GivenName = "<script>" }, "given_name"},
		{"line break in name", func(n *auth.NewUser) { n.GivenName = "Sam\r\nBcc: x" }, "given_name"},
		{"unknown role", func(n *auth.NewUser) { n.Roles = []string{auth.RoleAdmin, "superuser"} }, "roles"},
		{"weak password", func(n *auth.NewUser) { n.Password = "password" }, "password"},
		{"password with the name", func(n *auth.NewUser) { n.Password = "jones-the-steam-99" }, "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := ok
			c.edit(&n)
			wantField(t, n.Validate(), c.field)
		})
	}
	n := ok
	if err := n.Validate(); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		_, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "bad", GivenName: "", FamilyName: "X", Roles: []string{"root"}})
		ve := wantCode(t, err, errs.Invalid)
		var fields []string
		for _, f := range ve.Fields {
			fields = append(fields, f.Field)
		}
		if !slices.Equal(fields, []string{"email", "given_name", "roles"}) {
			t.Fatalf("fields %v, want email, given_name, roles", fields)
		}
		if ve.Message != "3 fields need correcting" {
			t.Fatalf("message %q", ve.Message)
		}
		if n, _ := e.svc.CountUsers(ctx); n != 0 {
			t.Fatalf("%d users after refused input", n)
		}
		if evs := events(t, db, audit.Filter{}); len(evs) != 0 {
			t.Fatalf("refused input was audited as a change: %+v", evs)
		}
	})
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		e.user(t, "zoe@nhs.net", auth.RoleAdmin)
		e.user(t, "adam@nhs.net")
		if _, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "kim@gov.uk", GivenName: "Kim", FamilyName: "Park"}); err != nil {
			t.Fatal(err)
		}
		all, err := e.svc.ListUsers(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, u := range all {
			emails = append(emails, u.Email)
		}
		if !slices.Equal(emails, []string{"adam@nhs.net", "kim@gov.uk", "zoe@nhs.net"}) {
			t.Fatalf("ListUsers = %v", emails)
		}
		if !all[2].HasRole(auth.RoleAdmin) {
			t.Fatal("ListUsers did not load roles")
		}
		found, _ := e.svc.ListUsers(ctx, "KIM PARK", 10)
		if len(found) != 1 || found[0].Email != "kim@gov.uk" {
			t.Fatalf("search by name found %v", found)
		}
		found, _ = e.svc.ListUsers(ctx, "nhs.net", 1)
		if len(found) != 1 {
			t.Fatalf("limit 1 returned %d", len(found))
		}
	})
}

func TestSetRolesKeepsTheLastAdministrator(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		a := e.user(t, "a@nhs.net", auth.RoleAdmin)
		b := e.user(t, "b@nhs.net")

		wantCode(t, e.svc.SetRoles(ctx, system, a.ID, []string{auth.RoleBackOffice}), errs.Conflict)
		wantCode(t, e.svc.SetStatus(ctx, system, a.ID, auth.StatusDeactivated), errs.Conflict)
		if u, _ := e.svc.User(ctx, a.ID); !u.HasRole(auth.RoleAdmin) || u.Status != auth.StatusActive {
			t.Fatalf("refused change was applied: %+v", u)
		}

		wantField(t, e.svc.SetRoles(ctx, system, b.ID, []string{"root"}), "roles")
		wantCode(t, e.svc.SetRoles(ctx, system, "no-such-user", nil), errs.NotFound)

		// A second administrator who is deactivated does not count.
		if err := e.svc.SetRoles(ctx, system, b.ID, []string{auth.RoleAdmin, auth.RoleBackOffice}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetStatus(ctx, system, b.ID, auth.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.SetRoles(ctx, system, a.ID, nil), errs.Conflict)

		// Once the second administrator is active again, the first can step down.
		if err := e.svc.SetStatus(ctx, system, b.ID, auth.StatusActive); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetRoles(ctx, system, a.ID, []string{auth.RolePrivacyOfficer}); err != nil {
			t.Fatal(err)
		}
		if u, _ := e.svc.User(ctx, a.ID); !slices.Equal(u.Roles, []string{auth.RolePrivacyOfficer}) {
			t.Fatalf("roles after change %v", u.Roles)
		}
		wantCode(t, e.svc.SetRoles(ctx, system, b.ID, []string{auth.RoleBackOffice}), errs.Conflict)
		// Keeping the admin role while changing the others is fine.
		if err := e.svc.SetRoles(ctx, system, b.ID, []string{auth.RoleAdmin}); err != nil {
			t.Fatal(err)
		}

		evs := events(t, db, audit.Filter{Action: "user.roles", ObjectID: a.ID})
		if len(evs) != 1 || evs[0].Detail["before"] != "admin" || evs[0].Detail["after"] != "privacy_officer" {
			t.Fatalf("user.roles events for a: %+v", evs)
		}
		if evs := events(t, db, audit.Filter{Action: "user.roles", ObjectID: b.ID}); len(evs) != 2 {
			t.Fatalf("want 2 user.roles events for b, got %+v", evs)
		}
		verifyAudit(t, db)
	})
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "c@nhs.net")
		wantField(t, e.svc.SetStatus(ctx, system, u.ID, "suspended"), "status")
		wantCode(t, e.svc.SetStatus(ctx, system, "nobody", auth.StatusDeactivated), errs.NotFound)

		if err := e.svc.SetStatus(ctx, system, u.ID, auth.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		// Setting the same status again changes and audits nothing.
		if err := e.svc.SetStatus(ctx, system, u.ID, auth.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetStatus(ctx, system, u.ID, auth.StatusActive); err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, ev := range events(t, db, audit.Filter{ObjectType: "user", ObjectID: u.ID}) {
			actions = append(actions, ev.Action)
		}
		if !slices.Equal(actions, []string{"user.create", "user.deactivate", "user.activate"}) {
			t.Fatalf("audited actions %v", actions)
		}
	})
}

func TestDeactivationRevokesSessionsAndTokensAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		e.user(t, "admin@nhs.net", auth.RoleAdmin)
		u := e.user(t, "leaver@nhs.net")
		other := e.user(t, "stayer@nhs.net")
		token, _, _, _ := e.enrol(t, u)
		half, _ := e.signIn(t, u.Email, auth.StateMFA)
		secret1, _, err := e.svc.CreateToken(ctx, system, u.ID, "sync")
		if err != nil {
			t.Fatal(err)
		}
		secret2, _, _ := e.svc.CreateToken(ctx, system, u.ID, "report")
		otherToken, _ := e.signIn(t, other.Email, auth.StateEnrol)
		otherSecret, _, _ := e.svc.CreateToken(ctx, system, other.ID, "")
		for _, s := range []string{secret1, secret2} {
			if _, err := e.svc.AuthenticateToken(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		if err := e.svc.SetStatus(ctx, system, u.ID, auth.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		// No clock movement: access stops at the same instant.
		for _, tok := range []string{token, half} {
			if _, _, err := e.svc.Session(ctx, tok); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("session of a deactivated user: %v", err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE user_id = ?`, u.ID).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d sessions left (err %v)", n, err)
		}
		for _, s := range []string{secret1, secret2} {
			if _, err := e.svc.AuthenticateToken(ctx, s); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("token of a deactivated user: %v", err)
			}
		}
		toks, _ := e.svc.Tokens(ctx, u.ID)
		for _, tk := range toks {
			if tk.RevokedAt == nil || !tk.RevokedAt.Equal(t0) {
				t.Fatalf("token %s not revoked at deactivation: %+v", tk.Name, tk)
			}
		}
		// Someone else's access is untouched.
		if _, _, err := e.svc.Session(ctx, otherToken); err != nil {
			t.Fatalf("other user's session ended: %v", err)
		}
		if _, err := e.svc.AuthenticateToken(ctx, otherSecret); err != nil {
			t.Fatalf("other user's token revoked: %v", err)
		}

		// Signing in with the right password says why it is refused; no session is made.
		_, _, err = e.svc.SignIn(ctx, browser, u.Email, goodPassword)
		wantCode(t, err, errs.Forbidden)
		_, _, err = e.svc.CreateToken(ctx, system, u.ID, "new")
		wantCode(t, err, errs.Conflict)
		refused := events(t, db, audit.Filter{Action: "auth.signin", ObjectID: u.ID})
		if len(refused) != 1 || refused[0].Outcome != audit.Refused || refused[0].Detail["reason"] != "deactivated" {
			t.Fatalf("refused sign-in audit %+v", refused)
		}

		// Reactivation lets the person sign in again; old tokens stay revoked.
		if err := e.svc.SetStatus(ctx, system, u.ID, auth.StatusActive); err != nil {
			t.Fatal(err)
		}
		e.signIn(t, u.Email, auth.StateMFA)
		if _, err := e.svc.AuthenticateToken(ctx, secret1); errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("revoked token came back after reactivation: %v", err)
		}
		verifyAudit(t, db)
	})
}

func TestDeactivatedAccountIsRefusedEvenWithoutRevocation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		u := e.user(t, "bulk@nhs.net")
		token, _ := e.signIn(t, u.Email, auth.StateEnrol)
		secret, _, err := e.svc.CreateToken(ctx, system, u.ID, "sync")
		if err != nil {
			t.Fatal(err)
		}
		// A status written by some other path that does not revoke anything:
		// the session and the token still stop working.
		if _, err := db.Exec(ctx, `UPDATE users SET status = ? WHERE id = ?`, auth.StatusDeactivated, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AuthenticateToken(ctx, secret); errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("token of a deactivated account: %v", err)
		}
		if _, _, err := e.svc.Session(ctx, token); errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("session of a deactivated account: %v", err)
		}
	})
}

// TestChangesRollBackWhenTheAuditFails shows that each change and its audit
// event share one transaction: when the event cannot be written, the change
// is not made either.
func TestChangesRollBackWhenTheAuditFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{})
		a := e.user(t, "admin@nhs.net", auth.RoleAdmin)
		u := e.user(t, "user@nhs.net")
		_, full, _, _ := e.enrol(t, u)
		if _, err := db.Exec(ctx, `DELETE FROM audit_head`); err != nil { // the next append cannot find the chain head
			t.Fatal(err)
		}
		if _, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: "x@nhs.net", GivenName: "X", FamilyName: "Y"}); err == nil {
			t.Fatal("CreateUser succeeded without its audit event")
		}
		if err := e.svc.SetRoles(ctx, system, u.ID, []string{auth.RoleBackOffice}); err == nil {
			t.Fatal("SetRoles succeeded without its audit event")
		}
		if err := e.svc.SetStatus(ctx, system, u.ID, auth.StatusDeactivated); err == nil {
			t.Fatal("SetStatus succeeded without its audit event")
		}
		if _, _, err := e.svc.CreateToken(ctx, system, a.ID, "t"); err == nil {
			t.Fatal("CreateToken succeeded without its audit event")
		}
		if err := e.svc.ChangePassword(ctx, browser, full, goodPassword, "a changed long passphrase"); err == nil {
			t.Fatal("ChangePassword succeeded without its audit event")
		}
		if _, err := e.svc.RegenerateRecoveryCodes(ctx, browser, u.ID); err == nil {
			t.Fatal("RegenerateRecoveryCodes succeeded without its audit event")
		}

		if n, _ := e.svc.CountUsers(ctx); n != 2 {
			t.Fatalf("%d users", n)
		}
		got, _ := e.svc.User(ctx, u.ID)
		if len(got.Roles) != 0 || got.Status != auth.StatusActive {
			t.Fatalf("user changed without audit: %+v", got)
		}
		if ts, _ := e.svc.Tokens(ctx, a.ID); len(ts) != 0 {
			t.Fatalf("token created without audit: %+v", ts)
		}
		if n, _ := e.svc.RemainingRecoveryCodes(ctx, u.ID); n != 10 {
			t.Fatalf("%d recovery codes", n)
		}
		if _, _, err := e.svc.SignIn(ctx, browser, u.Email, goodPassword); errs.CodeOf(err) == errs.Unauthenticated {
			t.Fatal("password changed without audit")
		}
	})
}
