package coupon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
)

// Created is the result of Create.
type Created struct {
	Coupon *Coupon `json:"coupon"`
	// New is false when a coupon with the request id already existed and
	// was returned instead of creating a second one.
	New bool `json:"created"`
	// RedisError is set when the coupon is stored in MySQL but its Redis
	// state could not be written: couponsd repairs it from MySQL at its
	// next sync (within its sync interval) and at start, and creating again
	// with the same request id retries the write.
	RedisError string `json:"redis_error,omitempty"`
}

// ErrNoPublisher is returned when a push-mode coupon is created without a
// transactional producer to announce it (Creator.Tx): it would be stored
// with no created event for the planner.
var ErrNoPublisher = errors.New("coupon: a push-mode coupon needs a transactional producer (Creator.Tx)")

// Create is Creator{DB: db, State: st}.Create at now: it creates lazy
// coupons (a push-mode spec fails with ErrNoPublisher; use a Creator with Tx).
func Create(ctx context.Context, db store.Handler, st *State, s Spec, requestID string, now time.Time) (Created, error) {
	return Creator{DB: db, State: st, Now: func() time.Time { return now }}.Create(ctx, s, requestID)
}

// Creator stores coupons: lazy ones MySQL first, then their Redis state;
// push-mode ones stored and announced to the push pipeline atomically.
type Creator struct {
	// DB is where coupons are stored. Required.
	DB store.Handler
	// State receives the Redis state; nil skips it (couponsd repairs it).
	State *State
	// Tx publishes a push-mode coupon's campaign.CreatedEvent (kind coupon)
	// in a RocketMQ transaction whose check-back is campaign.TxCheck.
	// Required for push-mode coupons only.
	Tx campaign.TxSender
	// Topic receives created events. Default campaign.TopicEvents.
	Topic string
	// Now is the clock; default time.Now (a zero time also means now).
	Now func() time.Time
}

// Create validates s and stores it as an active coupon. A lazy coupon is
// written to MySQL first (the truth), then, when State is set, to Redis
// (the active-set entry and its counters, marked loaded). A push-mode coupon
// is inserted (push_status created) and its campaign.CreatedEvent{Kind:
// coupon} published in one RocketMQ transaction, exactly like a promotion
// campaign (campaign.Creator.Announce): either both happen or neither; pushd's
// planner then shards its segment and its workers issue and announce it.
//
// requestID (optional for lazy coupons, required for push-mode ones: it is
// the event's key; see CheckRequestID) makes it idempotent: if a coupon with
// it exists, that one is returned with New false, its Redis state written
// again and nothing published. A validation error wraps ErrInvalid and
// nothing is stored. A Redis failure is not an error: see
// Created.RedisError. The push-mode errors are campaign.Creator.Announce's
// (campaign.ErrNotPublished: nothing stored; campaign.ErrOutcomeUnknown: look
// again with the same request id).
func (cr Creator) Create(ctx context.Context, s Spec, requestID string) (Created, error) {
	now := time.Time{}
	if cr.Now != nil {
		now = cr.Now()
	}
	if now.IsZero() {
		now = time.Now()
	}
	push := s.WithDefaults().Mode == ModePush
	if requestID != "" || push {
		if err := CheckRequestID(requestID); err != nil {
			return Created{}, err
		}
	}
	if err := s.Validate(now); err != nil {
		return Created{}, err
	}
	if cr.DB == nil {
		return Created{}, errors.New("coupon: create: Creator needs DB")
	}
	var out Created
	if requestID != "" {
		c, err := GetByRequestID(ctx, cr.DB, requestID)
		switch {
		case err == nil:
			out.Coupon = c
		case !errors.Is(err, ErrNotFound):
			return Created{}, err
		}
	}
	if out.Coupon == nil {
		var err error
		if push {
			err = cr.insertAnnounced(ctx, s, requestID, now)
		} else {
			var id int64
			if id, err = Insert(ctx, cr.DB, s, requestID); err == nil {
				out.Coupon, err = Get(ctx, cr.DB, id)
				if err != nil {
					return Created{}, fmt.Errorf("coupon: load created coupon %d: %w", id, err)
				}
			}
		}
		switch {
		case err == nil:
			out.New = true
		case errors.Is(err, store.ErrDuplicate) && requestID != "":
			// A concurrent create with the same request id won.
		default:
			return Created{}, err
		}
		if out.Coupon == nil {
			if out.Coupon, err = GetByRequestID(ctx, cr.DB, requestID); err != nil {
				return Created{}, err
			}
		}
	}
	if cr.State != nil {
		if err := Publish(ctx, cr.State, out.Coupon, now); err != nil {
			out.RedisError = err.Error()
		}
	}
	return out, nil
}

// insertAnnounced stores a push-mode coupon and publishes its created event
// in one RocketMQ transaction. An unknown outcome is looked up once.
func (cr Creator) insertAnnounced(ctx context.Context, s Spec, requestID string, now time.Time) error {
	if cr.Tx == nil {
		return ErrNoPublisher
	}
	ann := campaign.Creator{DB: cr.DB, Tx: cr.Tx, Topic: cr.Topic, Now: func() time.Time { return now }}
	err := ann.Announce(ctx, campaign.KindCoupon, requestID, func(ctx context.Context) error {
		_, err := Insert(ctx, cr.DB, s, requestID)
		return err
	})
	if errors.Is(err, campaign.ErrOutcomeUnknown) {
		if _, gerr := GetByRequestID(ctx, cr.DB, requestID); gerr == nil {
			return nil
		}
	}
	return err
}

// Publish writes c's Redis state: for an active lazy coupon, its counters
// (marked loaded with nothing issued, if they were not loaded) and its
// active-set entry; otherwise it drops the entry.
func Publish(ctx context.Context, st *State, c *Coupon, now time.Time) error {
	if c.Status == StatusActive && c.Mode == ModeLazy && c.IssuedCount == 0 {
		if err := st.InitCounters(ctx, c.ID, now); err != nil {
			return err
		}
	}
	return st.PutActive(ctx, c, now)
}

// Disable stops issuing coupon id: MySQL first, then its Redis active-set
// entry (when st is not nil; a failure there is harmless because every
// issuance re-checks the status in MySQL, and couponsd's next sync drops
// the entry). Items already held keep their lifecycle. It reports whether
// the status changed.
func Disable(ctx context.Context, db store.Handler, st *State, id int64) (bool, error) {
	changed, err := SetStatus(ctx, db, id, StatusDisabled)
	if err != nil {
		return false, err
	}
	if st != nil {
		if err := st.RemoveActive(ctx, id); err != nil {
			return changed, fmt.Errorf("coupon: coupon %d is disabled in mysql; couponsd drops it from redis at its next sync: %w", id, err)
		}
	}
	return changed, nil
}
