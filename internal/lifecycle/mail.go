package lifecycle

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// person is someone an automatic change is about or who is told of it.
type person struct {
	id, email, name string
}

// people reads the people with the given ids in one query.
func (s *Service) people(ctx context.Context, tx *store.Tx, ids []string) (map[string]person, error) {
	out := make(map[string]person, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cond, args := store.In(s.db.Dialect, "id", ids)
	rows, err := tx.Query(ctx, `SELECT id, email, given_name, family_name FROM users WHERE `+cond, args...)
	if err != nil {
		return nil, errs.Wrap(err, "read people")
	}
	defer rows.Close()
	for rows.Next() {
		var p person
		var given, family string
		if err := rows.Scan(&p.id, &p.email, &given, &family); err != nil {
			return nil, errs.Wrap(err, "read people")
		}
		p.name = strings.TrimSpace(given + " " + family)
		out[p.id] = p
	}
	return out, rows.Err()
}

// overseer is someone told about a change to a member: an authoriser of one
// of the member's sites (site names it), or a member of the service desk of
// the member's organisation (site is empty).
type overseer struct {
	person
	site string
}

// overseers returns, for each subject (user id → their record account's
// organisation), who is told about changes to their access: the active
// authorisers of the sites where the subject is an active member, never the
// subject themselves; for a subject without any, the active service desk
// staff of their organisation. Two queries for the whole batch. Call it
// before the memberships of the batch change.
func (s *Service) overseers(ctx context.Context, tx *store.Tx, subjects map[string]string) (map[string][]overseer, error) {
	out := make(map[string][]overseer, len(subjects))
	if len(subjects) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(subjects))
	for id := range subjects {
		ids = append(ids, id)
	}
	cond, args := store.In(s.db.Dialect, "m.user_id", ids)
	rows, err := tx.Query(ctx, `SELECT m.user_id, s.name, u.id, u.email, u.given_name, u.family_name
		FROM memberships m
		JOIN sites s ON s.id = m.site_id
		JOIN site_authorisers sa ON sa.site_id = m.site_id
		JOIN users u ON u.id = sa.user_id
		WHERE `+cond+` AND m.status = 'active' AND u.status = 'active' AND sa.user_id <> m.user_id`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "read authorisers")
	}
	for rows.Next() {
		var subject, given, family string
		var o overseer
		if err := rows.Scan(&subject, &o.site, &o.id, &o.email, &given, &family); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "read authorisers")
		}
		o.name = strings.TrimSpace(given + " " + family)
		out[subject] = append(out[subject], o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "read authorisers")
	}
	orgSet := map[string]bool{}
	for id, orgID := range subjects {
		if len(out[id]) == 0 && orgID != "" {
			orgSet[orgID] = true
		}
	}
	if len(orgSet) == 0 {
		return out, nil
	}
	orgIDs := make([]string, 0, len(orgSet))
	for id := range orgSet {
		orgIDs = append(orgIDs, id)
	}
	cond, args = store.In(s.db.Dialect, "sd.organisation_id", orgIDs)
	rows, err = tx.Query(ctx, `SELECT sd.organisation_id, u.id, u.email, u.given_name, u.family_name
		FROM service_desk_staff sd JOIN users u ON u.id = sd.user_id
		WHERE `+cond+` AND u.status = 'active'`, args...)
	if err != nil {
		return nil, errs.Wrap(err, "read service desk")
	}
	desk := map[string][]overseer{}
	for rows.Next() {
		var orgID, given, family string
		var o overseer
		if err := rows.Scan(&orgID, &o.id, &o.email, &given, &family); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, "read service desk")
		}
		o.name = strings.TrimSpace(given + " " + family)
		desk[orgID] = append(desk[orgID], o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "read service desk")
	}
	for id, orgID := range subjects {
		if len(out[id]) == 0 {
			for _, o := range desk[orgID] {
				if o.id != id {
					out[id] = append(out[id], o)
				}
			}
		}
	}
	return out, nil
}

// digest gathers, per recipient, the lines of one message: an authoriser
// whose site has fifty members deactivated in one sweep gets one e-mail
// listing them, not fifty.
type digest struct {
	order []string // recipient e-mails in first-seen order
	to    map[string]*digestEntry
}

type digestEntry struct {
	name  string
	lines []string
	seen  map[string]bool
}

func newDigest() *digest { return &digest{to: map[string]*digestEntry{}} }

// add lists line in o's message (once, however many of the subject's sites
// o authorises).
func (d *digest) add(o overseer, line string) {
	e := d.to[o.email]
	if e == nil {
		e = &digestEntry{name: o.name, seen: map[string]bool{}}
		d.to[o.email] = e
		d.order = append(d.order, o.email)
	}
	if !e.seen[line] {
		e.seen[line] = true
		e.lines = append(e.lines, line)
	}
}

// messages returns one message per recipient, its lines sorted, with data
// common to all of them.
func (d *digest) messages(kind string, common map[string]string) []notify.Message {
	out := make([]notify.Message, 0, len(d.order))
	for _, to := range d.order {
		e := d.to[to]
		sort.Strings(e.lines)
		data := make(map[string]string, len(common)+3)
		for k, v := range common {
			data[k] = v
		}
		data["Name"] = e.name
		data["People"] = strings.Join(e.lines, "\n")
		data["Count"] = strconv.Itoa(len(e.lines))
		out = append(out, notify.Message{To: to, Kind: kind, Data: data})
	}
	return out
}

// line names a member in an overseer's digest: "Jane Smith (jane@nhs.net),
// District Nursing North", then what happens to them.
func line(p person, o overseer, what string) string {
	s := p.name + " (" + p.email + ")"
	if o.site != "" {
		s += ", " + o.site
	}
	if what != "" {
		s += ": " + what
	}
	return s
}

// enqueue queues ms in tx and returns how many it queued. They are
// rendered while the transaction goes on and written just before it
// commits. On SQLite a rule records its audit events before it queues its
// e-mails, so that at commit the events are written while the e-mails are
// still being rendered; on PostgreSQL the events come last whatever the
// order (audit.Log.Record), so that the chain's head is not held while the
// e-mails are written.
func (s *Service) enqueue(ctx context.Context, tx *store.Tx, ms []notify.Message) (int, error) {
	if err := s.outbox.EnqueueManyAtCommit(ctx, tx, ms); err != nil {
		return 0, errs.Wrap(err, "queue e-mails")
	}
	return len(ms), nil
}
