package notify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// OutboxMessage is a message as kept in the outbox. Lists leave the bodies out.
type OutboxMessage struct {
	ID          string     `json:"id"`
	To          string     `json:"to"`
	Subject     string     `json:"subject"`
	Kind        string     `json:"kind"`
	RelatedType string     `json:"related_type,omitempty"`
	RelatedID   string     `json:"related_id,omitempty"`
	Status      string     `json:"status"` // pending, sent or failed
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	NextAttempt *time.Time `json:"next_attempt_at,omitempty"` // while pending
	SentAt      *time.Time `json:"sent_at,omitempty"`
	Sensitive   bool       `json:"sensitive"` // carries a secret
	// Bodies are given by Get only, and not when withheld.
	TextBody string `json:"text_body,omitempty"`
	HTMLBody string `json:"html_body,omitempty"`
	// BodyWithheld: the message carries a secret, so its body is not shown
	// (once it has been sent, or whenever messages are delivered by e-mail).
	BodyWithheld bool `json:"body_withheld,omitempty"`
}

// Filter selects outbox messages; empty fields match everything.
type Filter struct {
	To     string // part of the recipient address, any case
	Kind   string // one of Kinds()
	Status string // one of Statuses()
	Limit  int    // 1–500, default 100
	Cursor string // the next cursor of the previous page
}

const storedColumns = `id, to_addr, subject, kind, related_type, related_id, status, attempts, last_error, created_at, next_attempt_at, sent_at, sensitive`

func scanStored(sc interface{ Scan(...any) error }, extra ...any) (*OutboxMessage, error) {
	var m OutboxMessage
	var created, next, sent int64
	var sensitive int
	dst := append([]any{&m.ID, &m.To, &m.Subject, &m.Kind, &m.RelatedType, &m.RelatedID, &m.Status, &m.Attempts, &m.LastError,
		&created, &next, &sent, &sensitive}, extra...)
	if err := sc.Scan(dst...); err != nil {
		return nil, err
	}
	m.CreatedAt = time.UnixMicro(created).UTC()
	if m.Status == StatusPending {
		t := time.UnixMicro(next).UTC()
		m.NextAttempt = &t
	}
	if sent > 0 {
		t := time.UnixMicro(sent).UTC()
		m.SentAt = &t
	}
	m.Sensitive = sensitive == 1
	return &m, nil
}

// List returns the messages matching f, newest first, without their bodies,
// and the cursor of the next page ("" when there is none). It refuses an
// unknown kind or status. Callers check that the reader is an administrator.
func List(ctx context.Context, db *store.DB, f Filter) ([]OutboxMessage, string, error) {
	var v errs.Validation
	if f.Kind != "" && !slices.Contains(Kinds(), f.Kind) {
		v.Add("kind", "Choose one of: %s", strings.Join(Kinds(), ", "))
	}
	if f.Status != "" && !slices.Contains(Statuses(), f.Status) {
		v.Add("status", "Choose one of: %s", strings.Join(Statuses(), ", "))
	}
	if len(f.To) > 254 {
		v.Add("to", "Must be 254 characters or fewer")
	}
	var curAt int64
	var curID string
	if f.Cursor != "" {
		at, id, ok := strings.Cut(f.Cursor, ".")
		n, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || id == "" {
			v.Add("cursor", "Give the next cursor of the previous page")
		}
		curAt, curID = n, id
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var where []string
	var args []any
	if f.To != "" {
		// A substring match: LIKE's wildcards in the input are escaped.
		where = append(where, `LOWER(to_addr) LIKE ? ESCAPE '\'`)
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.To))
		args = append(args, "%"+esc+"%")
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.Cursor != "" {
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, curAt, curAt, curID)
	}
	q := `SELECT ` + storedColumns + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxMessage
	for rows.Next() {
		m, err := scanStored(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list outbox: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list outbox: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = strconv.FormatInt(last.CreatedAt.UnixMicro(), 10) + "." + last.ID
	}
	return out, next, nil
}

// Get returns one message with its bodies. The bodies of a message that
// carries a secret are withheld unless it is still pending and
// revealPending is set: when no SMTP server delivers messages (or in demo
// mode) the portal is how the secret reaches its recipient. Once sent, such
// bodies are erased from the outbox altogether. Callers check that the
// reader is an administrator.
func Get(ctx context.Context, db *store.DB, id string, revealPending bool) (*OutboxMessage, error) {
	var text, html string
	m, err := scanStored(db.QueryRow(ctx, `SELECT `+storedColumns+`, text_body, html_body FROM outbox WHERE id = ?`, id), &text, &html)
	if store.IsNoRows(err) {
		return nil, errs.E(errs.NotFound, "There is no message with this id in the outbox")
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox message: %w", err)
	}
	if m.Sensitive && (m.Status != StatusPending || !revealPending) {
		m.BodyWithheld = true
		return m, nil
	}
	m.TextBody, m.HTMLBody = text, html
	return m, nil
}
