package campaign

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// ErrOutcomeUnknown is returned by Create when the database did not say
// whether the campaign was stored (e.g. the connection broke during the
// insert). The broker's check-back settles the event; create again with the
// same request id to learn the outcome.
var ErrOutcomeUnknown = errors.New("campaign: create outcome unknown")

// ErrNotPublished is returned by Create when the created event could not be
// handed to the broker (unreachable, refused): nothing was stored.
var ErrNotPublished = errors.New("campaign: created event not published, nothing stored")

// PropBornMs is the user property of a created event carrying its send time
// in Unix milliseconds, read by the transaction check-back (a
// check-back sees the message, not its broker metadata).
const PropBornMs = "born_ms"

// TxPendingGrace is how long the check-back answers "unknown" for a created
// event whose campaign is not stored yet: the local transaction may still be
// running. After it, a missing campaign means the event is rolled back.
const TxPendingGrace = time.Minute

// MaxRequestIDLen bounds a request id (the request_id column).
const MaxRequestIDLen = 64

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// CheckRequestID validates a creation request id: 1..64 characters from
// letters, digits and "_.:-" (it is also the event's message key).
func CheckRequestID(id string) error {
	if p := RequestIDProblem(id); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, p)
	}
	return nil
}

// RequestIDProblem says what is wrong with a creation request id of a
// campaign or coupon, or "" when it is valid.
func RequestIDProblem(id string) string {
	switch {
	case id == "":
		return "request id is empty"
	case len(id) > MaxRequestIDLen:
		return fmt.Sprintf("request id is longer than %d characters", MaxRequestIDLen)
	case !requestIDPattern.MatchString(id):
		return fmt.Sprintf("request id %q: use only letters, digits and _.:-", id)
	}
	return ""
}

// NewRequestID returns a random request id with the given prefix, e.g.
// "mktctl-3f9a…".
func NewRequestID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// Message returns the created event as a message on topic (tag TagCreated,
// key the request id, or the campaign id when there is none), stamped with
// its send time for the check-back.
func (e CreatedEvent) Message(topic string, born time.Time) mq.Message {
	key := e.RequestID
	if key == "" {
		key = string(e.Kind) + ":" + strconv.FormatUint(e.CampaignID, 10)
	}
	return mq.Message{
		Topic:      topic,
		Tag:        TagCreated,
		Keys:       []string{key},
		Body:       Encode(e),
		Properties: map[string]string{PropBornMs: strconv.FormatInt(born.UnixMilli(), 10)},
	}
}

// TxSender publishes a message bound to a local transaction; *mq.TxProducer
// is one.
type TxSender interface {
	SendInTx(ctx context.Context, msg mq.Message, local func(ctx context.Context) error) error
}

// Creator stores campaigns and publishes their created event atomically.
type Creator struct {
	// DB is where campaigns are stored. Required.
	DB store.Handler
	// Tx publishes the created event in a RocketMQ transaction. Its producer
	// group's check-back must be TxCheck. Required.
	Tx TxSender
	// Topic receives created events. Default TopicEvents.
	Topic string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Created is the result of Create.
type Created struct {
	Campaign *Campaign `json:"campaign"`
	// New is false when a campaign with the request id already existed and
	// was returned instead of creating a second one.
	New bool `json:"created"`
}

// Create is Creator{DB: db, Tx: tx}.Create.
func Create(ctx context.Context, db store.Handler, tx TxSender, s Spec, requestID string) (Created, error) {
	return Creator{DB: db, Tx: tx}.Create(ctx, s, requestID)
}

// Create validates s and then, in one RocketMQ transaction, inserts the
// campaign (status created, keyed by requestID) and publishes its
// CreatedEvent: either both happen or neither. It never counts or reads the
// audience, so it takes the same time whatever the audience size.
//
// requestID is the idempotency key (see CheckRequestID): if a campaign with
// it exists, Create returns it with New false and publishes nothing. A
// validation error wraps ErrInvalid and nothing is stored or sent. When the
// insert fails with a server error the event is rolled back and the error
// returned; when the event cannot be sent nothing is stored and the error
// wraps ErrNotPublished; when its outcome is unknown (connection lost) the result is
// looked up once, and if still unknown ErrOutcomeUnknown is returned while
// the check-back settles the event.
func (cr Creator) Create(ctx context.Context, s Spec, requestID string) (Created, error) {
	now := time.Now()
	if cr.Now != nil {
		now = cr.Now()
	}
	if err := errors.Join(s.Validate(now), CheckRequestID(requestID)); err != nil {
		return Created{}, err
	}
	if cr.DB == nil || cr.Tx == nil {
		return Created{}, fmt.Errorf("campaign: create: Creator needs DB and Tx")
	}
	if c, err := FindRequest(ctx, cr.DB, s, requestID); err == nil {
		return Created{Campaign: c}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Created{Campaign: c}, err
	}

	err := cr.Announce(ctx, KindPromotion, requestID, func(ctx context.Context) error {
		_, err := Insert(ctx, cr.DB, s, requestID)
		return err
	})
	switch {
	case err == nil, errors.Is(err, store.ErrDuplicate):
		c, gerr := GetByRequestID(ctx, cr.DB, requestID)
		if gerr != nil {
			return Created{}, fmt.Errorf("campaign: load created campaign %q: %w", requestID, gerr)
		}
		if err != nil {
			return Created{Campaign: c}, c.sameRequest(s, requestID)
		}
		return Created{Campaign: c, New: true}, nil
	case errors.Is(err, ErrOutcomeUnknown):
		if c, gerr := GetByRequestID(ctx, cr.DB, requestID); gerr == nil {
			return Created{Campaign: c, New: true}, nil
		}
		return Created{}, err
	default:
		return Created{}, err
	}
}

// FindRequest returns the campaign created earlier with requestID, when s
// asks for it again; ErrNotFound when there is none, and ErrInvalid naming
// what differs when the request id was used for other parameters.
func FindRequest(ctx context.Context, h store.Handler, s Spec, requestID string) (*Campaign, error) {
	c, err := GetByRequestID(ctx, h, requestID)
	if err != nil {
		return nil, err
	}
	return c, c.sameRequest(s, requestID)
}

// sameRequest checks that s asks for the campaign c created earlier with
// the same request id: reusing an idempotency key for other parameters is an
// error naming what differs (as payment APIs treat their keys), not the
// first campaign returned in silence. Start times within a minute are the
// same request (a retried "--start-at +2h").
func (c *Campaign) sameRequest(s Spec, requestID string) error {
	var diff []string
	differs := func(field string, same bool) {
		if !same {
			diff = append(diff, field)
		}
	}
	differs("name", strings.TrimSpace(s.Name) == c.Name)
	differs("kind", s.Offer == c.Offer)
	differs("threshold", s.ThresholdCents == c.ThresholdCents)
	differs("discount", s.DiscountCents == c.DiscountCents)
	differs("percent", s.PercentOff == c.PercentOff)
	differs("gift", strings.TrimSpace(s.GiftText) == c.GiftText)
	differs("template", strings.TrimSpace(s.Template) == c.Template)
	differs("channels", slices.Equal(s.Channels, c.Channels))
	differs("audience", bytes.Equal(s.Audience.JSON(), c.Audience.JSON()))
	differs("shard size", s.ShardSize == c.ShardSize)
	switch {
	case s.StartAt == nil || c.StartAt == nil:
		differs("start", s.StartAt == nil && c.StartAt == nil)
	default:
		d := s.StartAt.Sub(*c.StartAt)
		differs("start", d > -time.Minute && d < time.Minute)
	}
	if len(diff) == 0 {
		return nil
	}
	return fmt.Errorf("%w: request id %q created campaign %d with other parameters (%s differ): use a new request id",
		ErrInvalid, requestID, c.ID, strings.Join(diff, ", "))
}

// ErrNothingToAnnounce is returned (wrapped) by an Announce insert that
// stored nothing on purpose (e.g. a concurrent launch took the rows): the
// event is rolled back and Announce returns the error as it is.
var ErrNothingToAnnounce = errors.New("campaign: nothing to announce")

// Announce stores a campaign of kind and publishes its CreatedEvent (keyed
// by requestID) in one RocketMQ transaction: insert runs as the local
// transaction, and the event is committed only if insert stored the
// campaign. It is the atomic step of Create, for any kind of campaign the
// planner plans (insert must store the row requestID names, in the table
// TxCheck looks up for kind). It returns nil when both happened; an error
// wrapping store.ErrDuplicate when insert found the request id taken (a
// concurrent create won; this event is rolled back); ErrNotPublished when
// the event could not be handed to the broker (insert did not run); the
// insert's own error when the server refused it (rolled back); and
// ErrOutcomeUnknown when insert's outcome is unknown (the connection broke):
// look the campaign up by request id, the check-back settles the event.
func (cr Creator) Announce(ctx context.Context, kind Kind, requestID string, insert func(ctx context.Context) error) error {
	if cr.Tx == nil {
		return fmt.Errorf("campaign: announce %s: Creator needs Tx", kind)
	}
	now := time.Now()
	if cr.Now != nil {
		now = cr.Now()
	}
	ev := CreatedEvent{Kind: kind, RequestID: requestID}
	var duplicate, ran bool
	err := cr.Tx.SendInTx(ctx, ev.Message(cmp.Or(cr.Topic, TopicEvents), now), func(ctx context.Context) error {
		ran = true
		err := insert(ctx)
		var serverErr *mysql.MySQLError
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrDuplicate):
			duplicate = true // a concurrent create with the same key won
			return err
		case errors.Is(err, ErrNothingToAnnounce):
			return err // nothing stored: the event is rolled back
		case errors.As(err, &serverErr):
			return err // the server refused the statement: nothing stored
		default:
			return fmt.Errorf("%w: %w", mq.ErrTxUnknown, err)
		}
	})
	switch {
	case err == nil:
		return nil
	case duplicate:
		return fmt.Errorf("campaign: create %s %q: %w", kind, requestID, store.ErrDuplicate)
	case errors.Is(err, ErrNothingToAnnounce):
		return err
	case errors.Is(err, mq.ErrTxUnknown):
		return fmt.Errorf("%w (request id %q; create again with it to see whether it was stored): %w",
			ErrOutcomeUnknown, requestID, err)
	case !ran:
		return fmt.Errorf("%w (request id %q): %w", ErrNotPublished, requestID, err)
	default:
		return fmt.Errorf("campaign: create %s %q: %w", kind, requestID, err)
	}
}

// TxCheck returns the check-back of the GroupTx producer group: for a
// CreatedEvent it answers commit when the campaign (promotion or coupon)
// with the event's request id is stored, rollback when it is not and the
// event is older than TxPendingGrace (or cannot be read), and unknown
// otherwise or when the database cannot be asked (the broker asks again).
// now defaults to time.Now.
func TxCheck(db store.Handler, logger *slog.Logger, now func() time.Time) mq.TxCheckFunc {
	if now == nil {
		now = time.Now
	}
	logger = cmp.Or(logger, slog.Default())
	return func(ctx context.Context, m mq.Message) mq.TxState {
		state, err := checkCreated(ctx, db, m, now())
		if err != nil {
			logger.Warn("campaign: transaction check-back", slog.String("topic", m.Topic),
				slog.Any("keys", m.Keys), slog.String("state", state.String()), slog.String("error", err.Error()))
		}
		return state
	}
}

func checkCreated(ctx context.Context, db store.Handler, m mq.Message, now time.Time) (mq.TxState, error) {
	ev, err := DecodeCreatedEvent(m.Body)
	if err != nil {
		return mq.TxRollback, fmt.Errorf("not a created event, rolled back: %w", err)
	}
	t, err := ev.Kind.runs()
	if err != nil {
		return mq.TxRollback, fmt.Errorf("created event of an unknown kind, rolled back: %w", err)
	}
	q := `SELECT COUNT(*) FROM ` + t.table + ` WHERE `
	var arg any
	if ev.RequestID != "" {
		q, arg = q+`request_id = ?`, ev.RequestID
	} else {
		q, arg = q+`id = ?`, ev.CampaignID
	}
	var n int
	if err := db.GetContext(ctx, &n, q, arg); err != nil {
		return mq.TxUnknown, fmt.Errorf("look up %s %v: %w", ev.Kind, arg, store.MapError(err))
	}
	if n > 0 {
		return mq.TxCommit, nil
	}
	born, err := strconv.ParseInt(m.Properties[PropBornMs], 10, 64)
	if err != nil {
		return mq.TxUnknown, fmt.Errorf("%s %v not stored and the event has no %s property", ev.Kind, arg, PropBornMs)
	}
	if now.Sub(time.UnixMilli(born)) > TxPendingGrace {
		return mq.TxRollback, nil
	}
	return mq.TxUnknown, nil
}
