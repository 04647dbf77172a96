package auth

import (
	"context"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/store"
)

// NewLaunchSessionTx opens a full session for a person whom their own
// clinical system has authenticated and launched into the record (the
// record checks the signed launch token before it calls this). It returns
// the session token for the cookie and its stored hash.
func (s *Service) NewLaunchSessionTx(ctx context.Context, tx *store.Tx, who audit.Who, userID string) (string, string, error) {
	token, sess, err := s.newSession(ctx, tx, who, userID, StateFull)
	if err != nil {
		return "", "", err
	}
	return token, sess.IDHash, nil
}
