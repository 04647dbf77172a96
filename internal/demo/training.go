package demo

import (
	"context"
	"fmt"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
)

// LoadTraining adds the demo's training, once: the eight published modules
// with their rules (all eight for the Care Professional role, five for the
// Administrator role, and one module also assigned to the district nurses
// of Riverside Community Health, so that it shows two reasons), and some
// progress: Amir Khan, who already has record access, has completed five
// modules and is part-way through a sixth (the modules came after his
// access, so they do not block it); Lucy Brown has completed two and
// started a third, and finishing the rest raises her access request; Ruth
// Ellis (Administrator role) has completed all five of hers.
// Call it after Load and LoadRequests.
func LoadTraining(ctx context.Context, db *store.DB, svc *training.Service) error {
	var loaded int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = 'demo_training_loaded'`).Scan(&loaded); err != nil {
		return err
	}
	if loaded > 0 {
		return nil
	}
	who := func(email string, roles ...string) (*authz.Principal, error) {
		p := &authz.Principal{Email: email, Global: roles}
		var given, family string
		if err := db.QueryRow(ctx, `SELECT id, given_name, family_name FROM users WHERE email = ?`, email).Scan(&p.UserID, &given, &family); err != nil {
			return nil, fmt.Errorf("demo training: %s: %w", email, err)
		}
		p.Name = given + " " + family
		return p, nil
	}
	admin, err := who("priya.shah@nhs.net", authz.Admin)
	if err != nil {
		return err
	}
	ids := map[string]string{}
	for i, dm := range demoModules {
		m, err := svc.CreateModule(ctx, admin, dm.content, training.SettingsInput{ValidityMonths: &dm.validityMonths, Position: ptr((i + 1) * 10)})
		if err != nil {
			return fmt.Errorf("demo module %q: %w", dm.content.Title, err)
		}
		if _, err := svc.Publish(ctx, admin, m.ID); err != nil {
			return fmt.Errorf("demo module %q: %w", dm.content.Title, err)
		}
		ids[dm.key] = m.ID
		in := training.RuleInput{ModuleID: m.ID}
		if !dm.forEveryone {
			in.RecordRole = access.RoleCareProfessional
		}
		if _, err := svc.AddRule(ctx, admin, in); err != nil {
			return fmt.Errorf("demo rule for %q: %w", dm.content.Title, err)
		}
	}
	var riverside string
	if err := db.QueryRow(ctx, `SELECT id FROM organisations WHERE ods_code = 'RY4'`).Scan(&riverside); err != nil {
		return fmt.Errorf("demo training: Riverside Community Health: %w", err)
	}
	if _, err := svc.AddRule(ctx, admin, training.RuleInput{ModuleID: ids["incidents"], OrganisationID: riverside,
		JobCategory: "Nursing and midwifery"}); err != nil {
		return fmt.Errorf("demo rule for district nurses: %w", err)
	}

	progress := []struct {
		email    string
		complete []string
		partial  string // module started
		pages    int    // pages of it finished
	}{
		{"amir.khan@nhs.net", []string{"intro", "signin", "find", "ig", "use"}, "read", 2},
		{"lucy.brown@westshire.gov.uk", []string{"intro", "signin"}, "find", 1},
		// Every module the Administrator role is assigned.
		{"ruth.ellis@nhs.net", []string{"intro", "signin", "find", "ig", "use"}, "", 0},
	}
	for _, pr := range progress {
		p, err := who(pr.email)
		if err != nil {
			return err
		}
		for _, key := range pr.complete {
			if err := completeDemoModule(ctx, svc, p, ids[key], key); err != nil {
				return fmt.Errorf("demo progress of %s: %w", pr.email, err)
			}
		}
		for n := 1; n <= pr.pages; n++ {
			if _, err := svc.CompletePage(ctx, p, ids[pr.partial], n); err != nil {
				return fmt.Errorf("demo progress of %s: %w", pr.email, err)
			}
		}
	}
	_, err = db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('demo_training_loaded', '1')`)
	return err
}

// completeDemoModule takes a demo member through a module, answering its
// check correctly.
func completeDemoModule(ctx context.Context, svc *training.Service, p *authz.Principal, moduleID, key string) error {
	var dm demoModule
	for _, m := range demoModules {
		if m.key == key {
			dm = m
		}
	}
	for n := 1; n <= len(dm.content.Pages); n++ {
		if _, err := svc.CompletePage(ctx, p, moduleID, n); err != nil {
			return err
		}
	}
	if len(dm.content.Questions) == 0 {
		return nil
	}
	check, err := svc.Check(ctx, p, moduleID)
	if err != nil {
		return err
	}
	answers := map[string]int{}
	for i, q := range check.Questions {
		answers[q.ID] = dm.content.Questions[i].Correct
	}
	_, err = svc.SubmitCheck(ctx, p, moduleID, answers)
	return err
}

func ptr[T any](v T) *T { return &v }
