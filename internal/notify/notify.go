// Package notify sends e-mail through a durable outbox. A change that causes
// a message calls Enqueue inside its own transaction, so the message exists
// if and only if the change committed; background jobs deliver it over SMTP
// with retries. Without SMTP configured the messages stay in the outbox,
// where administrators read them in the portal.
package notify

import (
	"context"
	"fmt"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// Message is one e-mail to queue. Kind names its template; Data fills it.
type Message struct {
	To          string
	Kind        string
	Data        map[string]string
	RelatedType string // what it is about, e.g. "access_request"
	RelatedID   string
	Sensitive   bool // carries a secret (a one-time password)
}

// Outbox queues messages.
type Outbox struct {
	clock clock.Clock
}

// NewOutbox returns the outbox.
func NewOutbox(c clock.Clock) *Outbox { return &Outbox{clock: c} }

// Enqueue renders m and writes it to the outbox inside tx, due at once.
func (o *Outbox) Enqueue(ctx context.Context, tx *store.Tx, m Message) (string, error) {
	now := o.clock.Now().UnixMicro()
	subject, text, html, err := render(m.Kind, m.Data)
	if err != nil {
		return "", err
	}
	id := ident.New()
	sensitive := 0
	if m.Sensitive {
		sensitive = 1
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (id, created_at, to_addr, subject, text_body, html_body, kind, related_type, related_id, next_attempt_at, sensitive)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, now, m.To, subject, text, html, m.Kind, m.RelatedType, m.RelatedID, now, sensitive); err != nil {
		return "", fmt.Errorf("queue e-mail: %w", err)
	}
	return id, nil
}
