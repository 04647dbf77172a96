package access

import (
	"context"
	"slices"
	"strings"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

var stateLabels = map[string]string{StateSubmitted: "submitted", StateValidated: "validated", StateInProgress: "in progress",
	StateNeedsInformation: "waiting for information", StateCompleted: "completed", StateRejected: "rejected", StateCancelled: "cancelled"}

// illegal explains why a request cannot move.
func illegal(r *Request, verb string) error {
	return errs.E(errs.Conflict, "Request %s is %s, so it cannot be %s", r.Ref, stateLabels[r.State], verb)
}

// move changes a request's state inside a transaction: it reloads the
// request, lets check refuse, applies the change only if no one else moved
// the request meanwhile, and records history and audit with the change.
func (s *Service) move(ctx context.Context, p *authz.Principal, id, action string, check func(r *Request) error,
	apply func(tx *store.Tx, r *Request) error) (*Request, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	var out *Request
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.load(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.moveTx(ctx, tx, p, r, action, check, apply); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// moveTx is move for a request already loaded in the caller's transaction.
func (s *Service) moveTx(ctx context.Context, tx *store.Tx, p *authz.Principal, r *Request, action string, check func(r *Request) error,
	apply func(tx *store.Tx, r *Request) error) error {
	if !s.canSee(ctx, p, r) {
		return errs.E(errs.Forbidden, "You do not have permission to see this request")
	}
	if err := check(r); err != nil {
		return err
	}
	from := r.State
	if err := apply(tx, r); err != nil {
		return err
	}
	if err := s.save(ctx, tx, r, from); err != nil {
		return err
	}
	return s.log.Record(ctx, tx, audit.New(p.Who(), "access_request."+action, "access_request", r.ID, audit.Success,
		map[string]string{"from": from, "to": r.State}))
}

// save writes a request's changed fields, refusing if its state changed
// since it was read (two people acting on one request at once).
func (s *Service) save(ctx context.Context, tx *store.Tx, r *Request, from string) error {
	now := s.clock.Now()
	r.UpdatedAt = now
	q := `UPDATE access_requests SET state = ?, validated_by = ?, validated_at = ?, due_at = ?, assigned_to = ?, question = ?, answer = ?,
		resolution = ?, resumes_state = ?, closed_at = ?, updated_at = ?, subject_user_id = ?`
	args := []any{r.State, r.ValidatedBy, microsOf(r.ValidatedAt), microsOf(r.DueAt), r.AssignedTo, r.Question, r.Answer, r.Resolution,
		r.resumes, microsOf(r.ClosedAt), now.UnixMicro(), nullable(r.SubjectUserID)}
	if Closed(r.State) {
		q += `, open_key = NULL` // a closed request no longer blocks a new one
	}
	q += ` WHERE id = ? AND state = ?`
	args = append(args, r.ID, from)
	res, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return errs.Wrap(err, "update request")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errs.E(errs.Conflict, "Someone else changed request %s at the same time; reload it and try again", r.Ref)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isBackOffice: the back office actions requests.
func isBackOffice(p *authz.Principal) bool { return p.Has(authz.BackOffice) }

// Validate accepts a submitted request on behalf of the organisation's
// service desk and forwards it to the back office; the SLA starts.
// Callers: the organisation's service desk. Errors: NotFound, Forbidden,
// Conflict.
func (s *Service) Validate(ctx context.Context, p *authz.Principal, id, note string) (*Request, error) {
	return s.move(ctx, p, id, "validate", func(r *Request) error {
		if !p.StaffsServiceDesk(r.OrganisationID) {
			return errs.E(errs.Forbidden, "Only the organisation's service desk validates its requests")
		}
		if r.State != StateSubmitted {
			return illegal(r, "validated")
		}
		return nil
	}, func(tx *store.Tx, r *Request) error {
		return s.validateTx(ctx, tx, p.Who(), r, strings.TrimSpace(note))
	})
}

// validateTx marks r validated, starts the SLA, records history and tells
// the submitter. The caller saves r.
func (s *Service) validateTx(ctx context.Context, tx *store.Tx, who audit.Who, r *Request, note string) error {
	from := r.State
	s.markValidated(r, who.UserID)
	if err := s.history(ctx, tx, who, r, from, StateValidated, note); err != nil {
		return err
	}
	return s.mailSubmitter(ctx, tx, r, "request_validated")
}

// markValidated sets a request's validation and starts its SLA.
func (s *Service) markValidated(r *Request, by string) {
	now := s.clock.Now()
	due := s.cal.AddWorkingDays(now, s.cfg.SLAWorkingDays)
	r.State, r.ValidatedBy, r.ValidatedAt, r.DueAt = StateValidated, by, &now, &due
}

// Assign gives a validated request to a back-office member (to oneself when
// assignee is empty) and marks it in progress. Callers: the back office.
func (s *Service) Assign(ctx context.Context, p *authz.Principal, id, assignee string) (*Request, error) {
	if assignee == "" && p != nil {
		assignee = p.UserID
	}
	return s.move(ctx, p, id, "assign", func(r *Request) error {
		if !isBackOffice(p) {
			return errs.E(errs.Forbidden, "Only the back office assigns requests")
		}
		if r.State != StateValidated && r.State != StateInProgress {
			return illegal(r, "assigned")
		}
		if assignee != p.UserID {
			u, err := s.users.User(ctx, assignee)
			if err != nil || !u.HasRole(authz.BackOffice) {
				return &errs.Error{Code: errs.Invalid, Message: "Requests can only be assigned to members of the back office",
					Fields: []errs.FieldError{{Field: "assignee", Message: "Choose a member of the back office"}}}
			}
		}
		return nil
	}, func(tx *store.Tx, r *Request) error {
		from := r.State
		r.State, r.AssignedTo = StateInProgress, assignee
		return s.history(ctx, tx, p.Who(), r, from, r.State, "Assigned")
	})
}

// AskForInformation returns a request to its submitter with a question.
// Callers: the service desk while it validates; the back office after.
func (s *Service) AskForInformation(ctx context.Context, p *authz.Principal, id, question string) (*Request, error) {
	question = strings.TrimSpace(question)
	return s.move(ctx, p, id, "ask", func(r *Request) error {
		switch {
		case r.State == StateSubmitted && p.StaffsServiceDesk(r.OrganisationID):
		case (r.State == StateValidated || r.State == StateInProgress) && isBackOffice(p):
		case r.State == StateSubmitted || r.State == StateValidated || r.State == StateInProgress:
			return errs.E(errs.Forbidden, "You cannot ask for information on this request")
		default:
			return illegal(r, "returned with a question")
		}
		var v errs.Validation
		text(&v, "question", "Question", question, true, 2000)
		return v.Err()
	}, func(tx *store.Tx, r *Request) error {
		from := r.State
		r.resumes, r.State, r.Question, r.Answer = from, StateNeedsInformation, question, ""
		if err := s.history(ctx, tx, p.Who(), r, from, r.State, question); err != nil {
			return err
		}
		return s.mailSubmitter(ctx, tx, r, "request_needs_information")
	})
}

// Answer replies to a question; the request resumes where it was. Callers:
// the submitter, or anyone who may raise requests for that site.
func (s *Service) Answer(ctx context.Context, p *authz.Principal, id, answer string) (*Request, error) {
	answer = strings.TrimSpace(answer)
	return s.move(ctx, p, id, "answer", func(r *Request) error {
		if r.SubmittedBy != p.UserID && !s.canRaise(ctx, p, r.OrganisationID, r.SiteID) {
			return errs.E(errs.Forbidden, "Only the person who raised the request can answer its question")
		}
		if r.State != StateNeedsInformation {
			return illegal(r, "answered")
		}
		var v errs.Validation
		text(&v, "answer", "Answer", answer, true, 2000)
		return v.Err()
	}, func(tx *store.Tx, r *Request) error {
		from := r.State
		r.State, r.Answer = r.resumes, answer
		if r.State == "" {
			r.State = StateValidated
		}
		r.resumes = ""
		return s.history(ctx, tx, p.Who(), r, from, r.State, answer)
	})
}

// Cancel withdraws an open request that the back office has not started.
// Callers: the submitter, or anyone who may raise requests for that site.
func (s *Service) Cancel(ctx context.Context, p *authz.Principal, id, reason string) (*Request, error) {
	check, apply := s.cancelling(ctx, p, strings.TrimSpace(reason))
	return s.move(ctx, p, id, "cancel", check, apply)
}

// cancelling is the check and the change of a cancellation.
func (s *Service) cancelling(ctx context.Context, p *authz.Principal, reason string) (func(*Request) error, func(*store.Tx, *Request) error) {
	return func(r *Request) error {
			if r.SubmittedBy != p.UserID && !s.canRaise(ctx, p, r.OrganisationID, r.SiteID) {
				return errs.E(errs.Forbidden, "Only the person who raised the request can cancel it")
			}
			if !slices.Contains([]string{StateSubmitted, StateValidated, StateNeedsInformation}, r.State) {
				return illegal(r, "cancelled")
			}
			return nil
		}, func(tx *store.Tx, r *Request) error {
			from := r.State
			now := s.clock.Now()
			r.State, r.ClosedAt, r.Resolution = StateCancelled, &now, reason
			if err := s.history(ctx, tx, p.Who(), r, from, r.State, reason); err != nil {
				return err
			}
			return s.mailSubmitter(ctx, tx, r, "request_cancelled")
		}
}

// WithdrawNewUserTx cancels the person's open new-user request for the
// organisation orgID, if there is one, in the caller's transaction: an
// authoriser who removes or deactivates someone still waiting for their
// account must not leave the back office to grant it. A request for another
// organisation (which the person has joined too) is left alone. It returns
// the request cancelled, or nil when there was none. Errors: Conflict when
// the back office has already started on it (the caller's change then fails
// whole, and says so), Forbidden as Cancel.
func (s *Service) WithdrawNewUserTx(ctx context.Context, tx *store.Tx, p *authz.Principal, email, orgID, reason string) (*Request, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM access_requests WHERE open_key = ? AND organisation_id = ?`,
		openKey(&Input{Type: TypeNewUser, Email: email}), orgID).Scan(&id)
	if store.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Wrap(err, "find new user request")
	}
	r, err := s.load(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	check, apply := s.cancelling(ctx, p, reason)
	if err := s.moveTx(ctx, tx, p, r, "cancel", check, apply); err != nil {
		return nil, err
	}
	return r, nil
}

// Reject refuses a request with a reason. Callers: the service desk while it
// validates; the back office after.
func (s *Service) Reject(ctx context.Context, p *authz.Principal, id, reason string) (*Request, error) {
	reason = strings.TrimSpace(reason)
	return s.move(ctx, p, id, "reject", func(r *Request) error {
		stage := r.State
		if stage == StateNeedsInformation {
			stage = r.resumes
		}
		switch {
		case stage == StateSubmitted && p.StaffsServiceDesk(r.OrganisationID):
		case (stage == StateValidated || stage == StateInProgress) && isBackOffice(p):
		case !Closed(r.State):
			return errs.E(errs.Forbidden, "You cannot reject this request")
		default:
			return illegal(r, "rejected")
		}
		var v errs.Validation
		text(&v, "reason", "Reason", reason, true, 2000)
		return v.Err()
	}, func(tx *store.Tx, r *Request) error {
		from := r.State
		now := s.clock.Now()
		r.State, r.ClosedAt, r.Resolution = StateRejected, &now, reason
		if err := s.history(ctx, tx, p.Who(), r, from, r.State, reason); err != nil {
			return err
		}
		return s.mailSubmitter(ctx, tx, r, "request_rejected")
	})
}
