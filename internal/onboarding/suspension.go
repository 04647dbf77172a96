package onboarding

import (
	"context"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// Keys of the suspension in the settings table.
const (
	keySuspended = "requests_suspended"         // "1" while suspended, "" otherwise
	keyMessage   = "requests_suspended_message" // shown to everyone while suspended
)

// DefaultSuspensionMessage is offered in the form when suspending.
const DefaultSuspensionMessage = "New access requests to the shared care record are temporarily suspended. Existing users are not affected. This message will be removed once new requests are accepted again."

// Suspension reports whether new access requests are suspended for the whole
// region, and the message to give while they are. q may be a transaction, so
// that a request is refused (or accepted) consistently with what it reads.
// The access-request service refuses new-user requests with the message;
// existing members are unaffected.
func Suspension(ctx context.Context, q store.Querier) (suspended bool, message string, err error) {
	rows, err := q.Query(ctx, `SELECT key, value FROM settings WHERE key IN (?, ?)`, keySuspended, keyMessage)
	if err != nil {
		return false, "", errs.Wrap(err, "read suspension")
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return false, "", errs.Wrap(err, "read suspension")
		}
		switch k {
		case keySuspended:
			suspended = v == "1"
		case keyMessage:
			message = v
		}
	}
	if err := rows.Err(); err != nil {
		return false, "", errs.Wrap(err, "read suspension")
	}
	if !suspended {
		return false, "", nil
	}
	if message == "" {
		message = DefaultSuspensionMessage
	}
	return true, message, nil
}

// SuspensionState is whether new access requests are suspended.
type SuspensionState struct {
	Suspended bool   `json:"suspended"`
	Message   string `json:"message"` // empty when not suspended
}

// SuspensionInput turns the suspension on (with its message) or off.
type SuspensionInput struct {
	Suspended bool   `json:"suspended"`
	Message   string `json:"message"` // required when suspending; ignored otherwise
}

// State returns the suspension. Callers: anyone signed in (the portal shows
// it on every page). Errors: Unauthenticated.
func (s *Service) State(ctx context.Context, p *authz.Principal) (*SuspensionState, error) {
	if p == nil {
		return nil, errs.E(errs.Unauthenticated, "Sign in to continue")
	}
	on, msg, err := Suspension(ctx, s.db)
	if err != nil {
		return nil, err
	}
	return &SuspensionState{Suspended: on, Message: msg}, nil
}

// SetSuspension suspends new access requests for the region with a message,
// or resumes them. Callers: administrators. Errors: Forbidden, Invalid.
func (s *Service) SetSuspension(ctx context.Context, p *authz.Principal, in SuspensionInput) (*SuspensionState, error) {
	if err := authz.Require(p, authz.Admin); err != nil {
		return nil, err
	}
	msg := strings.TrimSpace(strings.ReplaceAll(in.Message, "\r\n", "\n"))
	if !in.Suspended {
		msg = ""
	} else {
		var v errs.Validation
		switch {
		case msg == "":
			v.Add("message", "Enter the message to show while new requests are suspended")
		case len([]rune(msg)) > 1000:
			v.Add("message", "The message must be 1,000 characters or fewer")
		case strings.ContainsAny(msg, "<>\x00"):
			v.Add("message", "The message must not contain < or >")
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	flagValue, action := "", "requests.resume"
	if in.Suspended {
		flagValue, action = "1", "requests.suspend"
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, kv := range [][2]string{{keySuspended, flagValue}, {keyMessage, msg}} {
			if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, kv[0], kv[1]); err != nil {
				return errs.Wrap(err, "save suspension")
			}
		}
		d := map[string]string{}
		if msg != "" {
			d["message"] = msg
		}
		return s.log.Record(ctx, tx, audit.New(p.Who(), action, "settings", keySuspended, audit.Success, d))
	})
	if err != nil {
		return nil, err
	}
	s.banner.forget() // this process shows the change at once
	return &SuspensionState{Suspended: in.Suspended, Message: msg}, nil
}

// bannerTTL is how long Banner trusts what it last read.
const bannerTTL = 5 * time.Second

// Banner returns the message to show on every portal page while new requests
// are suspended, or "". It reads the setting at most once per bannerTTL per
// process rather than on every page. Caching is safe with several caregate
// processes sharing one database: each has its own copy, and a change made
// through another process shows here within bannerTTL (this process's own
// changes at once). It decides nothing — access requests read the setting
// itself, in their transaction — so a few seconds' delay is harmless. On a
// read error it keeps showing what it last knew.
//
// The expiry uses the monotonic wall clock rather than the service's clock:
// freshness of a cache is not a rule of the domain, and must hold even when
// a test or the demo stops or moves the domain clock.
func (s *Service) Banner(ctx context.Context) (string, error) {
	c := &s.banner
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < bannerTTL {
		return c.message, nil
	}
	on, msg, err := Suspension(ctx, s.db)
	if err != nil {
		return c.message, err
	}
	if !on {
		msg = ""
	}
	c.at, c.message = time.Now(), msg
	return msg, nil
}

func (c *bannerCache) forget() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}
