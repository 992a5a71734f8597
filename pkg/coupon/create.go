package coupon

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// Create validates s and stores it as an active coupon: MySQL first (the
// truth), then, when st is not nil, the Redis state (the active-set entry of
// a lazy coupon and its counters, marked loaded). requestID (optional, see
// CheckRequestID) makes it idempotent: if a coupon with it exists, that one
// is returned with New false — and its Redis state written again. A
// validation error wraps ErrInvalid and nothing is stored. A Redis failure
// is not an error: see Created.RedisError.
func Create(ctx context.Context, db store.Handler, st *State, s Spec, requestID string, now time.Time) (Created, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if requestID != "" {
		if err := CheckRequestID(requestID); err != nil {
			return Created{}, err
		}
	}
	if err := s.Validate(now); err != nil {
		return Created{}, err
	}
	var out Created
	if requestID != "" {
		c, err := GetByRequestID(ctx, db, requestID)
		switch {
		case err == nil:
			out.Coupon = c
		case !errors.Is(err, ErrNotFound):
			return Created{}, err
		}
	}
	if out.Coupon == nil {
		id, err := Insert(ctx, db, s, requestID)
		switch {
		case err == nil:
			out.New = true
			if out.Coupon, err = Get(ctx, db, id); err != nil {
				return Created{}, fmt.Errorf("coupon: load created coupon %d: %w", id, err)
			}
		case errors.Is(err, store.ErrDuplicate) && requestID != "":
			// A concurrent create with the same request id won.
			if out.Coupon, err = GetByRequestID(ctx, db, requestID); err != nil {
				return Created{}, err
			}
		default:
			return Created{}, err
		}
	}
	if st != nil {
		if err := Publish(ctx, st, out.Coupon, now); err != nil {
			out.RedisError = err.Error()
		}
	}
	return out, nil
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
