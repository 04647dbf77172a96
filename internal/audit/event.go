package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"
	"time"
	"unicode/utf8"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Failure = "failure"
	Refused = "refused"
)

// SystemActor is the actor of changes made by CareGate itself (jobs, rules).
const SystemActor = "system"

// Event is one entry of the audit trail.
type Event struct {
	Seq        int64             `json:"seq"`
	At         time.Time         `json:"at"`
	ActorID    string            `json:"actor_id"`
	Actor      string            `json:"actor"` // e-mail, or "system"
	Action     string            `json:"action"`
	ObjectType string            `json:"object_type"`
	ObjectID   string            `json:"object_id"`
	Outcome    string            `json:"outcome"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"user_agent"`
	Detail     map[string]string `json:"detail,omitempty"`
	PrevHash   string            `json:"prev_hash"`
	Hash       string            `json:"hash"`
}

// Who identifies the person (or system) acting and where from; handlers build
// it once per request and pass it to services.
type Who struct {
	UserID    string
	Email     string
	IP        string
	UserAgent string
}

// System is the Who of automatic changes.
var System = Who{UserID: SystemActor, Email: SystemActor}

// New builds an event for who doing action on an object.
func New(who Who, action, objectType, objectID, outcome string, detail map[string]string) Event {
	actor := who.Email
	if actor == "" {
		actor = "anonymous"
	}
	return Event{ActorID: who.UserID, Actor: actor, Action: action, ObjectType: objectType,
		ObjectID: objectID, Outcome: outcome, IP: who.IP, UserAgent: truncate(who.UserAgent, 512), Detail: detail}
}

// clean makes every text field storable on both engines before it is hashed:
// PostgreSQL text refuses NUL bytes and invalid UTF-8, which hostile input
// (a user agent, a typed e-mail address) may carry.
func (e *Event) clean() {
	for _, f := range []*string{&e.ActorID, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Outcome, &e.IP, &e.UserAgent} {
		*f = cleanText(*f)
	}
	e.UserAgent = truncate(e.UserAgent, 512)
	if len(e.Detail) > 0 {
		d := make(map[string]string, len(e.Detail))
		for k, v := range e.Detail {
			d[cleanText(k)] = cleanText(v)
		}
		e.Detail = d
	}
}

func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\ufffd"), "\x00", "\ufffd")
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func encodeDetail(d map[string]string) string {
	if len(d) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(d) // map keys are sorted: the encoding is canonical
	return string(b)
}

// chainHash computes an event's hash from its stored fields. Every field is
// length-prefixed so that no two different events encode alike.
func chainHash(h hash.Hash, seq, at int64, fields [9][]byte, prev []byte) string {
	h.Reset()
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(seq))
	h.Write(buf[:])
	binary.BigEndian.PutUint64(buf[:], uint64(at))
	h.Write(buf[:])
	for _, f := range fields {
		binary.BigEndian.PutUint32(buf[:4], uint32(len(f)))
		h.Write(buf[:4])
		h.Write(f)
	}
	binary.BigEndian.PutUint32(buf[:4], uint32(len(prev)))
	h.Write(buf[:4])
	h.Write(prev)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func (e *Event) fields(detail string) [9][]byte {
	return [9][]byte{[]byte(e.ActorID), []byte(e.Actor), []byte(e.Action), []byte(e.ObjectType),
		[]byte(e.ObjectID), []byte(e.Outcome), []byte(e.IP), []byte(e.UserAgent), []byte(detail)}
}
