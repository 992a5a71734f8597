package coupon

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"mkt/pkg/cache"
	"mkt/pkg/store"
)

// ErrNoState means a coupon's Redis state is not loaded (never built, or
// Redis lost it); EnsureLoaded rebuilds it from MySQL.
var ErrNoState = errors.New("coupon: redis state not loaded")

// Redis layout, under the cache prefix and the state's namespace ns (the
// database name by default, so databases sharing a Redis never mix):
//
//	coupon:<ns>:active                hash: "_synced" → last full sync from
//	                                  MySQL (Unix ms); "<id>" → JSON of an
//	                                  active lazy coupon
//	coupon:<ns>:{<id>}:ready          state loaded marker (Unix ms of load);
//	                                  absent = rebuild from MySQL first
//	coupon:<ns>:{<id>}:issued         items issued or reserved (quota counter)
//	coupon:<ns>:{<id>}:counts         BITFIELD u8 at #member: items a member holds
//	                                  or has reserved (members ≥ 2^29: hash below)
//	coupon:<ns>:{<id>}:countsh        hash member → count, for huge member ids
//	coupon:<ns>:{<id>}:pending        zset member → lease deadline (Unix ms) of a
//	                                  reservation not yet confirmed by MySQL
//	coupon:<ns>:{<id>}:rebuild        rebuild lock (token, with a TTL)
//
// The {<id>} hash tag keeps one coupon's keys in one cluster slot, as its Lua
// scripts need.
const activeSyncedField = "_synced"

// bitfieldMaxMember bounds the member ids kept in the BITFIELD (u8 at
// #member must stay under Redis' 512 MiB string limit).
const bitfieldMaxMember = 1 << 29

// Reservation codes returned by the reserve script, per member.
const (
	codeHas        = 0  // the member already holds its items
	codeBusy       = -2 // a reservation for the member is in flight
	codeStale      = -3 // a reservation's lease ran out unconfirmed
	codeSoldOut    = -4 // the quota is used up
	codeSoldOutTmp = -5 // used up, but reservations in flight may give some back
)

// The count helpers shared by the scripts: KEYS[3] is the BITFIELD, KEYS[4]
// the hash for member ids at or above 2^29.
const luaCountHelpers = `
local function getc(m)
  if tonumber(m) < 536870912 then
    return redis.call('BITFIELD', KEYS[3], 'GET', 'u8', '#' .. m)[1]
  end
  return tonumber(redis.call('HGET', KEYS[4], m) or '0')
end
local function setc(m, v)
  if v < 0 then v = 0 end
  if v > 255 then v = 255 end
  if tonumber(m) < 536870912 then
    redis.call('BITFIELD', KEYS[3], 'SET', 'u8', '#' .. m, v)
  else
    redis.call('HSET', KEYS[4], m, v)
  end
end
`

// reserveScript reserves, for each member, the items it lacks up to the
// per-member limit, within the quota, and records the reservation with a
// lease. KEYS: ready, issued, counts, countsh, pending. ARGV: now (ms),
// deadline (ms), limit, quota (-1 = unlimited), member ids...
// Returns {1} when the state is not loaded, else {0, codes, stale scores}.
const reserveScript = luaCountHelpers + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
local now = tonumber(ARGV[1])
local deadline = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local quota = tonumber(ARGV[4])
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
local pendingN = nil
local codes, scores = {}, {}
for i = 5, #ARGV do
  local m = ARGV[i]
  local code, score = 0, 0
  local sc = redis.call('ZSCORE', KEYS[5], m)
  if sc then
    score = tonumber(sc)
    if score < now then code = -3 else code = -2; score = 0 end
  else
    local cur = getc(m)
    local want = limit - cur
    if want > 0 and quota >= 0 then
      local avail = quota - issued
      if avail <= 0 then
        if pendingN == nil then pendingN = redis.call('ZCARD', KEYS[5]) end
        if pendingN > 0 then code = -5 else code = -4 end
        want = 0
      elseif want > avail then
        want = avail
      end
    end
    if want > 0 then
      setc(m, cur + want)
      issued = issued + want
      redis.call('ZADD', KEYS[5], deadline, m)
      if pendingN ~= nil then pendingN = pendingN + 1 end
      code = want
    end
  end
  codes[#codes + 1] = code
  scores[#scores + 1] = score
end
redis.call('SET', KEYS[2], issued)
return {0, codes, scores}
`

// settleScript ends reservations. KEYS: ready, issued, counts, countsh,
// pending. ARGV: mode ("confirm" | "undo" | "repair"), then per member five
// values: member id, expected lease deadline, items reserved, items the
// MySQL transaction inserted, truth (items the member holds in MySQL).
//
//	confirm: MySQL committed. The quota counter moves by inserted - reserved
//	         (exactly the rows inserted stay counted), the count becomes the
//	         truth.
//	undo:    MySQL rolled back; the reservation is given back.
//	repair:  a lease ran out; the count becomes the truth read from MySQL and
//	         the quota counter gets back what the count overstated.
//
// A member whose pending deadline is not the expected one is left alone
// (someone else settled it, or a newer reservation is in flight), except
// that a confirm raises a count lower than the truth. Nothing is written when
// the state is not loaded. Returns the number of reservations settled.
const settleScript = luaCountHelpers + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local mode = ARGV[1]
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
local settled = 0
for i = 2, #ARGV, 5 do
  local m = ARGV[i]
  local expected = tonumber(ARGV[i + 1])
  local reserved = tonumber(ARGV[i + 2])
  local inserted = tonumber(ARGV[i + 3])
  local truth = tonumber(ARGV[i + 4])
  local sc = redis.call('ZSCORE', KEYS[5], m)
  if sc and tonumber(sc) == expected then
    local cur = getc(m)
    if mode == 'confirm' then
      issued = issued + inserted - reserved
      setc(m, truth)
    elseif mode == 'undo' then
      issued = issued - reserved
      setc(m, cur - reserved)
    else
      local over = cur - truth
      if over > 0 then issued = issued - over end
      setc(m, truth)
    end
    redis.call('ZREM', KEYS[5], m)
    settled = settled + 1
  elseif (not sc) and mode == 'confirm' then
    if getc(m) < truth then setc(m, truth) end
  end
end
if issued < 0 then issued = 0 end
redis.call('SET', KEYS[2], issued)
return settled
`

// initScript marks a new coupon's state loaded with nothing issued, unless
// it is loaded already. KEYS: ready, issued. ARGV: now (ms).
const initScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], 0)
redis.call('SET', KEYS[1], ARGV[1])
return 1
`

// unlockScript deletes the rebuild lock if it still holds our token.
const unlockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

// StateConfig configures a State.
type StateConfig struct {
	// Cache is the Redis client; required.
	Cache *cache.Client
	// Namespace separates databases sharing a Redis: coupon ids are only
	// unique within one database. Required; use the database name
	// (store.DB.Name()).
	Namespace string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// RebuildWait is how long EnsureLoaded waits for another process's
	// rebuild before giving up with ErrRetry. Default 10s.
	RebuildWait time.Duration
	// RebuildLockTTL bounds a rebuild lock left by a dead process; a live
	// rebuild keeps extending it. Default 30s.
	RebuildLockTTL time.Duration
}

// State is the Redis side of coupons: the active-coupon set and each
// coupon's counters. It is safe for concurrent use.
type State struct {
	cfg     StateConfig
	log     *slog.Logger
	reserve *cache.Script
	settle  *cache.Script
	init    *cache.Script
	unlock  *cache.Script
}

// NewState validates cfg and returns the State.
func NewState(cfg StateConfig) (*State, error) {
	if cfg.Cache == nil {
		return nil, errors.New("coupon: state needs a Redis client")
	}
	if cfg.Namespace == "" {
		return nil, errors.New("coupon: state needs a namespace (the database name)")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.RebuildWait = cmp.Or(cfg.RebuildWait, 10*time.Second)
	cfg.RebuildLockTTL = cmp.Or(cfg.RebuildLockTTL, 30*time.Second)
	c := cfg.Cache
	return &State{
		cfg:     cfg,
		log:     cfg.Logger,
		reserve: c.NewScript(reserveScript),
		settle:  c.NewScript(settleScript),
		init:    c.NewScript(initScript),
		unlock:  c.NewScript(unlockScript),
	}, nil
}

// Load caches the scripts on the server (optional: Run falls back to EVAL).
func (s *State) Load(ctx context.Context) error {
	for _, sc := range []*cache.Script{s.reserve, s.settle, s.init, s.unlock} {
		if err := sc.Load(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *State) activeKey() string { return "coupon:" + s.cfg.Namespace + ":active" }

func (s *State) key(id int64, part string) string {
	return "coupon:" + s.cfg.Namespace + ":{" + strconv.FormatInt(id, 10) + "}:" + part
}

// counterKeys are the KEYS of the reserve and settle scripts.
func (s *State) counterKeys(id int64) []string {
	return []string{s.key(id, "ready"), s.key(id, "issued"), s.key(id, "counts"), s.key(id, "countsh"), s.key(id, "pending")}
}

// --- the active-coupon set -------------------------------------------------

// PutActive records c in the active set if it is an active lazy coupon
// whose window has not ended, and removes it otherwise.
func (s *State) PutActive(ctx context.Context, c *Coupon, now time.Time) error {
	if c.Status != StatusActive || c.Mode != ModeLazy || !c.ValidUntil.After(now) {
		return s.RemoveActive(ctx, c.ID)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("coupon: encode coupon %d: %w", c.ID, err)
	}
	if err := s.cfg.Cache.Redis().HSet(ctx, s.cfg.Cache.Key(s.activeKey()), strconv.FormatInt(c.ID, 10), b).Err(); err != nil {
		return fmt.Errorf("coupon: add coupon %d to the redis active set: %w", c.ID, err)
	}
	return nil
}

// RemoveActive drops coupon id from the active set.
func (s *State) RemoveActive(ctx context.Context, id int64) error {
	if err := s.cfg.Cache.Redis().HDel(ctx, s.cfg.Cache.Key(s.activeKey()), strconv.FormatInt(id, 10)).Err(); err != nil {
		return fmt.Errorf("coupon: remove coupon %d from the redis active set: %w", id, err)
	}
	return nil
}

// LoadActive reads the active set. synced is false when the set carries no
// sync marker (never synced, or Redis lost it): it must be rebuilt with
// SyncActive before it can be trusted.
func (s *State) LoadActive(ctx context.Context) (coupons []*Coupon, synced bool, err error) {
	raw, err := s.cfg.Cache.Redis().HGetAll(ctx, s.cfg.Cache.Key(s.activeKey())).Result()
	if err != nil {
		return nil, false, fmt.Errorf("coupon: read the redis active set: %w", err)
	}
	for f, v := range raw {
		if f == activeSyncedField {
			synced = true
			continue
		}
		var c Coupon
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			s.log.Warn("coupon: unreadable entry in the redis active set, ignored", "coupon_id", f, "error", err.Error())
			continue
		}
		coupons = append(coupons, &c)
	}
	return coupons, synced, nil
}

// SyncActive replaces the active set with MySQL's active lazy coupons (the
// repair of a create whose Redis write failed, of a disable whose removal
// failed, and of a Redis that lost its data) and returns them.
func (s *State) SyncActive(ctx context.Context, db store.Handler, now time.Time) ([]*Coupon, error) {
	list, err := ListIssuable(ctx, db, ModeLazy, now)
	if err != nil {
		return nil, err
	}
	fields := make([]any, 0, 2*len(list)+2)
	fields = append(fields, activeSyncedField, strconv.FormatInt(now.UnixMilli(), 10))
	out := make([]*Coupon, len(list))
	for i := range list {
		c := &list[i]
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("coupon: encode coupon %d: %w", c.ID, err)
		}
		fields = append(fields, strconv.FormatInt(c.ID, 10), b)
		out[i] = c
	}
	key := s.cfg.Cache.Key(s.activeKey())
	_, err = s.cfg.Cache.Redis().TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, fields...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("coupon: write the redis active set: %w", err)
	}
	return out, nil
}

// --- per-coupon counters ---------------------------------------------------

// InitCounters marks a brand-new coupon's counters loaded (nothing issued),
// unless they are loaded already.
func (s *State) InitCounters(ctx context.Context, id int64, now time.Time) error {
	keys := s.counterKeys(id)[:2]
	if err := s.init.Run(ctx, keys, now.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("coupon: initialise redis counters of coupon %d: %w", id, err)
	}
	return nil
}

// Loaded reports whether coupon id's counters are loaded.
func (s *State) Loaded(ctx context.Context, id int64) (bool, error) {
	n, err := s.cfg.Cache.Redis().Exists(ctx, s.cfg.Cache.Key(s.key(id, "ready"))).Result()
	if err != nil {
		return false, fmt.Errorf("coupon: check redis state of coupon %d: %w", id, err)
	}
	return n == 1, nil
}

// reservation is the outcome of reserving one member.
type reservation struct {
	member int64
	code   int64 // > 0 items reserved, else a code* constant
	score  int64 // codeStale: the expired lease deadline to repair
}

// reserveMembers runs the reserve script for members of c. It returns
// ErrNoState when the counters are not loaded.
func (s *State) reserveMembers(ctx context.Context, c *Coupon, members []int64, now, deadline time.Time) ([]reservation, error) {
	quota := int64(-1)
	if c.TotalQuota != nil {
		quota = *c.TotalQuota
	}
	args := make([]any, 0, 4+len(members))
	args = append(args, now.UnixMilli(), deadline.UnixMilli(), c.PerMemberLimit, quota)
	for _, m := range members {
		args = append(args, m)
	}
	res, err := s.reserve.Run(ctx, s.counterKeys(c.ID), args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("coupon: reserve coupon %d in redis: %w", c.ID, err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("coupon: reserve coupon %d in redis: empty reply", c.ID)
	}
	if st, _ := res[0].(int64); st == 1 {
		return nil, fmt.Errorf("%w: coupon %d", ErrNoState, c.ID)
	}
	codes, ok1 := res[1].([]any)
	scores, ok2 := res[2].([]any)
	if len(res) != 3 || !ok1 || !ok2 || len(codes) != len(members) || len(scores) != len(members) {
		return nil, fmt.Errorf("coupon: reserve coupon %d in redis: malformed reply", c.ID)
	}
	out := make([]reservation, len(members))
	for i, m := range members {
		code, _ := codes[i].(int64)
		score, _ := scores[i].(int64)
		out[i] = reservation{member: m, code: code, score: score}
	}
	return out, nil
}

// settlement is one member's line in the settle script.
type settlement struct {
	member   int64
	deadline int64 // expected lease deadline (Unix ms)
	reserved int
	inserted int
	truth    int
}

// settleMembers runs the settle script in mode confirm, undo or repair.
func (s *State) settleMembers(ctx context.Context, id int64, mode string, lines []settlement) (int64, error) {
	if len(lines) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 1+5*len(lines))
	args = append(args, mode)
	for _, l := range lines {
		args = append(args, l.member, l.deadline, l.reserved, l.inserted, l.truth)
	}
	n, err := s.settle.Run(ctx, s.counterKeys(id), args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("coupon: %s %d reservations of coupon %d in redis: %w", mode, len(lines), id, err)
	}
	return n, nil
}

// StaleReservations returns up to limit members of coupon id whose
// reservation lease ended before now, with their deadlines.
func (s *State) staleReservations(ctx context.Context, id int64, now time.Time, limit int64) ([]settlement, error) {
	zs, err := s.cfg.Cache.Redis().ZRangeByScoreWithScores(ctx, s.cfg.Cache.Key(s.key(id, "pending")), &redis.ZRangeBy{
		Min: "-inf", Max: "(" + strconv.FormatInt(now.UnixMilli(), 10), Count: limit,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("coupon: read stale reservations of coupon %d: %w", id, err)
	}
	out := make([]settlement, 0, len(zs))
	for _, z := range zs {
		m, err := strconv.ParseInt(fmt.Sprint(z.Member), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, settlement{member: m, deadline: int64(z.Score)})
	}
	return out, nil
}

// RepairStale settles every reservation of coupon c whose lease ended
// before now (its holder died between Redis and MySQL, or lost Redis on the
// way back) from MySQL's truth, and returns how many it settled.
func (s *State) RepairStale(ctx context.Context, db store.Handler, id int64, now time.Time) (int, error) {
	total := 0
	for {
		lines, err := s.staleReservations(ctx, id, now, 500)
		if err != nil || len(lines) == 0 {
			return total, err
		}
		if err := s.repair(ctx, db, id, lines); err != nil {
			return total, err
		}
		total += len(lines)
		if len(lines) < 500 {
			return total, nil
		}
	}
}

// repair reads the truth of lines' members from MySQL and settles them.
func (s *State) repair(ctx context.Context, db store.Handler, id int64, lines []settlement) error {
	members := make([]int64, len(lines))
	for i, l := range lines {
		members[i] = l.member
	}
	held, err := heldCounts(ctx, db, id, members)
	if err != nil {
		return err
	}
	for i := range lines {
		lines[i].truth = held[lines[i].member].count
	}
	_, err = s.settleMembers(ctx, id, "repair", lines)
	return err
}

// --- rebuild ---------------------------------------------------------------

// EnsureLoaded makes sure coupon id's counters are loaded: if they are not,
// it rebuilds them from MySQL under a Redis lock, or waits for the process
// holding the lock. It returns ErrRetry if another process's rebuild takes
// longer than RebuildWait.
func (s *State) EnsureLoaded(ctx context.Context, db store.Handler, id int64) error {
	deadline := time.Now().Add(s.cfg.RebuildWait)
	for {
		ok, err := s.Loaded(ctx, id)
		if err != nil || ok {
			return err
		}
		got, err := s.Rebuild(ctx, db, id)
		if err != nil || got {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: coupon %d: redis state rebuild by another process still running", ErrRetry, id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Rebuild reloads coupon id's counters from MySQL if it can take the rebuild
// lock (it reports false when another process holds it). It drops the old
// counters and reservations, loads issued_count and every member's item
// count (streamed by member id), then marks the state loaded. Reservations
// in flight during a rebuild settle harmlessly: counters only ever come out
// lower than MySQL's truth, which costs a MySQL round trip, never a coupon.
func (s *State) Rebuild(ctx context.Context, db store.Handler, id int64) (bool, error) {
	rdb := s.cfg.Cache.Redis()
	lockKey := s.cfg.Cache.Key(s.key(id, "rebuild"))
	var tb [8]byte
	_, _ = rand.Read(tb[:])
	token := hex.EncodeToString(tb[:])
	ok, err := rdb.SetNX(ctx, lockKey, token, s.cfg.RebuildLockTTL).Result()
	if err != nil {
		return false, fmt.Errorf("coupon: take the rebuild lock of coupon %d: %w", id, err)
	}
	if !ok {
		return false, nil
	}
	defer func() {
		_ = s.unlock.Run(context.WithoutCancel(ctx), []string{s.key(id, "rebuild")}, token).Err()
	}()
	start := time.Now()
	keys := s.counterKeys(id)
	pk := make([]string, len(keys))
	for i, k := range keys {
		pk[i] = s.cfg.Cache.Key(k)
	}
	if err := rdb.Del(ctx, pk...).Err(); err != nil {
		return true, fmt.Errorf("coupon: clear redis counters of coupon %d: %w", id, err)
	}
	var issued int64
	if err := db.GetContext(ctx, &issued, `SELECT issued_count FROM sales_promotion_coupon WHERE id = ?`, id); err != nil {
		err = store.MapError(err)
		if errors.Is(err, store.ErrNotFound) {
			return true, fmt.Errorf("%w: coupon %d", ErrNotFound, id)
		}
		return true, fmt.Errorf("coupon: read issued count of coupon %d: %w", id, err)
	}
	if err := rdb.Set(ctx, pk[1], issued, 0).Err(); err != nil {
		return true, fmt.Errorf("coupon: write issued count of coupon %d: %w", id, err)
	}
	const page = 5000
	var after int64
	members := 0
	for {
		var rows []struct {
			Member int64 `db:"member_id"`
			N      int   `db:"n"`
		}
		if err := db.SelectContext(ctx, &rows, `SELECT member_id, COUNT(*) AS n FROM sales_promotion_coupon_item
			WHERE coupon_id = ? AND member_id > ? GROUP BY member_id ORDER BY member_id LIMIT ?`, id, after, page); err != nil {
			return true, fmt.Errorf("coupon: read item counts of coupon %d: %w", id, store.MapError(err))
		}
		if len(rows) == 0 {
			break
		}
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range rows {
				n := min(r.N, 255)
				if r.Member < bitfieldMaxMember {
					p.BitField(ctx, pk[2], "SET", "u8", "#"+strconv.FormatInt(r.Member, 10), n)
				} else {
					p.HSet(ctx, pk[3], strconv.FormatInt(r.Member, 10), n)
				}
			}
			p.Expire(ctx, lockKey, s.cfg.RebuildLockTTL)
			return nil
		})
		if err != nil {
			return true, fmt.Errorf("coupon: write item counts of coupon %d: %w", id, err)
		}
		members += len(rows)
		after = rows[len(rows)-1].Member
		if len(rows) < page {
			break
		}
	}
	if err := rdb.Set(ctx, pk[0], strconv.FormatInt(time.Now().UnixMilli(), 10), 0).Err(); err != nil {
		return true, fmt.Errorf("coupon: mark redis state of coupon %d loaded: %w", id, err)
	}
	s.log.Info("coupon: redis state rebuilt from mysql", "coupon_id", id, "issued", issued,
		"members", members, "elapsed", time.Since(start).Round(time.Millisecond))
	return true, nil
}

// Forget deletes coupon id's counters and its active-set entry (after a
// disable, or in tests). A later EnsureLoaded rebuilds the counters.
func (s *State) Forget(ctx context.Context, id int64) error {
	keys := s.counterKeys(id)
	if _, err := s.cfg.Cache.Del(ctx, keys...); err != nil {
		return fmt.Errorf("coupon: forget redis counters of coupon %d: %w", id, err)
	}
	return s.RemoveActive(ctx, id)
}

// Counters is a snapshot of a coupon's Redis counters, for operators.
type Counters struct {
	Loaded  bool  `json:"loaded"`
	Issued  int64 `json:"issued"`
	Pending int64 `json:"pending"`
}

// ReadCounters reads coupon id's Redis counters.
func (s *State) ReadCounters(ctx context.Context, id int64) (Counters, error) {
	rdb := s.cfg.Cache.Redis()
	var ready *redis.IntCmd
	var issued *redis.StringCmd
	var pending *redis.IntCmd
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ready = p.Exists(ctx, s.cfg.Cache.Key(s.key(id, "ready")))
		issued = p.Get(ctx, s.cfg.Cache.Key(s.key(id, "issued")))
		pending = p.ZCard(ctx, s.cfg.Cache.Key(s.key(id, "pending")))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Counters{}, fmt.Errorf("coupon: read redis counters of coupon %d: %w", id, err)
	}
	c := Counters{Loaded: ready.Val() == 1, Pending: pending.Val()}
	c.Issued, _ = strconv.ParseInt(issued.Val(), 10, 64)
	return c, nil
}
