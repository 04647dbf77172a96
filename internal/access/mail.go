package access

import (
	"context"
	"strings"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

var typeLabels = map[string]string{TypeNewUser: "New user", TypeAmendment: "Amendment", TypeReactivation: "Reactivation",
	TypeDeactivation: "Deactivation", TypeDeletion: "Deletion"}

// TypeLabel names a request type for people.
func TypeLabel(t string) string { return typeLabels[t] }

// StateLabel names a request state for people.
func StateLabel(s string) string { return stateLabels[s] }

func (s *Service) link(path string) string {
	if s.cfg.BaseURL == "" {
		return path
	}
	return s.cfg.BaseURL + path
}

// mailSubmitter tells the person who raised a request what happened to it:
// at every step, not only at the end.
func (s *Service) mailSubmitter(ctx context.Context, tx *store.Tx, r *Request, kind string) error {
	type person struct{ email, name string }
	u, err := memo(tx, "user:"+r.SubmittedBy, func() (person, error) {
		var p person
		var given, family string
		err := tx.QueryRow(ctx, `SELECT email, given_name, family_name FROM users WHERE id = ?`, r.SubmittedBy).Scan(&p.email, &given, &family)
		p.name = strings.TrimSpace(given + " " + family)
		return p, err
	})
	if err != nil {
		return errs.Wrap(err, "read submitter")
	}
	reason := r.Resolution
	_, err = s.outbox.Enqueue(ctx, tx, notify.Message{To: u.email, Kind: kind, RelatedType: "access_request", RelatedID: r.ID,
		Data: map[string]string{"Name": u.name, "Ref": r.Ref, "Title": r.Title, "Type": TypeLabel(r.Type), "State": StateLabel(r.State),
			"Question": r.Question, "Reason": reason, "Resolution": r.Resolution, "Link": s.link("/requests/" + r.ID)}})
	if err != nil {
		return errs.Wrap(err, "queue e-mail")
	}
	return nil
}

// mailUser tells the person the request is about that their access changed.
func (s *Service) mailUser(ctx context.Context, tx *store.Tx, r *Request, to, change, reason string) error {
	_, err := s.outbox.Enqueue(ctx, tx, notify.Message{To: to, Kind: "access_changed", RelatedType: "access_request", RelatedID: r.ID,
		Data: map[string]string{"Name": r.Name(), "Change": change, "Reason": strings.ReplaceAll(reason, "_", " "), "Link": s.link("/")}})
	if err != nil {
		return errs.Wrap(err, "queue e-mail")
	}
	return nil
}

type memoKey string

// memo returns a lookup's value, computing it once per transaction: a bulk
// transaction asks the same questions (the submitter, the organisation)
// hundreds of times.
func memo[T any](tx *store.Tx, key string, fn func() (T, error)) (T, error) {
	if v, ok := tx.Value(memoKey(key)).(T); ok {
		return v, nil
	}
	v, err := fn()
	if err == nil {
		tx.SetValue(memoKey(key), v)
	}
	return v, err
}
