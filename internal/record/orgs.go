package record

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// supplier is what a record read shows of the organisation that supplied an
// item: its name (the viewer) and ODS code (the viewer, and the FHIR API's
// meta.source).
type supplier struct {
	Name, ODS string
}

// suppliers remembers every organisation's name and ODS code, so that
// record reads need not join each row to the organisations table: that
// join was a quarter of a FHIR read's query and a sixth of a summary's.
// The whole table is read at once (one row per partner organisation) and
// read again once it is older than every. An organisation renamed (or its
// ODS code corrected) in this or another process therefore shows under its
// new name within that time; one not seen before is looked up at once.
// Nothing else about an organisation is taken from here: whether it is
// live is the gate's business, read from the database.
type suppliers struct {
	db    *store.DB
	every time.Duration    // how long a reading is used; negative: never remembered
	now   func() time.Time // the wall clock: a cache's age, not a rule of the record

	cur     atomic.Pointer[supplierSet]
	loading sync.Mutex // one reading at a time
}

// supplierSet is one reading of the organisations table.
type supplierSet struct {
	byID map[string]supplier
	read time.Time
}

func newSuppliers(db *store.DB, every time.Duration) *suppliers {
	return &suppliers{db: db, every: every, now: time.Now}
}

// get returns organisation id's name and ODS code.
func (s *suppliers) get(ctx context.Context, id string) (supplier, error) {
	set := s.cur.Load()
	if set != nil && s.every >= 0 {
		if o, ok := set.byID[id]; ok {
			// An old reading is read again by one request while the others
			// go on with what they have.
			if s.now().Sub(set.read) < s.every || !s.loading.TryLock() {
				return o, nil
			}
			defer s.loading.Unlock()
			set, err := s.read(ctx)
			return set.find(id, err)
		}
	}
	set, err := s.load(ctx, set)
	if err != nil {
		return supplier{}, err
	}
	if _, ok := set.byID[id]; !ok {
		// The reading another request made may have begun before this
		// organisation was added: read the table again.
		set, err = s.load(ctx, nil)
	}
	return set.find(id, err)
}

// find returns organisation id's entry in a reading, unless reading it
// failed with err (set is then nil).
func (set *supplierSet) find(id string, err error) (supplier, error) {
	if err != nil {
		return supplier{}, err
	}
	o, ok := set.byID[id]
	if !ok {
		return supplier{}, errs.E(errs.Internal, "organisation %s is not in the organisations table", id)
	}
	return o, nil
}

// load reads the table, unless another request did while this one waited
// for the lock (the set it saw, seen, is no longer the current one); with
// seen nil it always reads.
func (s *suppliers) load(ctx context.Context, seen *supplierSet) (*supplierSet, error) {
	s.loading.Lock()
	defer s.loading.Unlock()
	if cur := s.cur.Load(); seen != nil && cur != seen && s.every >= 0 {
		return cur, nil
	}
	return s.read(ctx)
}

// read reads the table and makes it the current reading; the caller holds
// s.loading.
func (s *suppliers) read(ctx context.Context) (*supplierSet, error) {
	read := s.now()
	rows, err := s.db.Query(ctx, `SELECT id, name, ods_code FROM organisations`)
	if err != nil {
		return nil, errs.Wrap(err, "read organisations")
	}
	defer rows.Close()
	set := &supplierSet{byID: map[string]supplier{}, read: read}
	for rows.Next() {
		var id string
		var o supplier
		if err := rows.Scan(&id, &o.Name, &o.ODS); err != nil {
			return nil, errs.Wrap(err, "read organisations")
		}
		set.byID[id] = o
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, "read organisations")
	}
	s.cur.Store(set)
	return set, nil
}

// ods returns the ODS code of organisation id, the supplier of a resource.
func (s *Service) ods(ctx context.Context, id string) (string, error) {
	o, err := s.orgs.get(ctx, id)
	return o.ODS, err
}
