package notify

import (
	"context"

	"github.com/caregate/caregate/internal/store"
)

// EnqueueManyAtCommit is EnqueueMany for a caller with more to do in its
// transaction. It checks ms at once and refuses them all, writing nothing,
// if any is refused (as EnqueueMany does); then it renders them on other
// cores while the caller goes on, and writes them just before the
// transaction commits, after the before-commit work registered earlier (on
// SQLite, the transaction's audit events once one is recorded; on
// PostgreSQL the audit events come after everything else). An automatic
// rule's 2,000 e-mails take about as long to render as its audit events and
// other rows take to write; side by side, the transaction is that much
// shorter. A
// message that fails to render fails the commit, which rolls the whole
// transaction back; inside a savepoint that is rolled back, the messages are
// dropped with it. Callers: the automatic rules (lifecycle).
func (o *Outbox) EnqueueManyAtCommit(ctx context.Context, tx *store.Tx, ms []Message) error {
	for _, m := range ms {
		if _, err := check(m); err != nil {
			return err
		}
	}
	if len(ms) == 0 {
		return nil
	}
	now := o.clock.Now().UnixMicro()
	var rows [][]any
	var err error
	rendered := make(chan struct{})
	// Computation only: what must happen is written in the transaction by
	// the hook below, which waits for it.
	go func() {
		defer close(rendered)
		rows, err = o.rows(ms, now)
	}()
	undone := false
	tx.OnUndo(func() { undone = true })
	tx.BeforeCommit(func() error {
		<-rendered
		if undone {
			return nil
		}
		if err != nil {
			return err
		}
		return o.write(context.WithoutCancel(ctx), tx, rows)
	})
	return nil
}
