package providersim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/strictjson"
)

// Stats are the simulator's counters since start or the last reset.
type Stats struct {
	// Requests counts send calls (single and batch) that reached fault
	// injection, i.e. well-formed and authorised.
	Requests uint64 `json:"requests"`
	// BatchRequests counts the batch calls among Requests.
	BatchRequests uint64 `json:"batch_requests"`
	// Recipients counts the recipients carried by Requests.
	Recipients uint64 `json:"recipients"`
	// Delivered counts recipients answered OK, duplicates included.
	Delivered uint64 `json:"delivered"`
	// Distinct counts distinct (campaign, channel, member) triples delivered.
	Distinct uint64 `json:"distinct"`
	// Duplicates counts deliveries to an already delivered (campaign,
	// channel, member): Delivered - Distinct.
	Duplicates uint64 `json:"duplicates"`
	// Errors counts calls answered with an injected 500.
	Errors uint64 `json:"errors"`
	// Timeouts counts calls held by an injected timeout.
	Timeouts uint64 `json:"timeouts"`
	// RateLimited counts calls answered with an injected 429.
	RateLimited uint64 `json:"rate_limited"`
	// Rejected counts recipients refused because they are in FailMembers.
	Rejected uint64 `json:"rejected"`
	// Abandoned counts calls whose client went away before the answer (its
	// recipients are not counted as delivered).
	Abandoned uint64 `json:"abandoned"`
	// BadRequests counts send calls refused as malformed (400).
	BadRequests uint64 `json:"bad_requests"`
	// Unauthorized counts send calls without the configured token (401).
	Unauthorized uint64 `json:"unauthorized"`
	// InFlight is the number of send calls being handled now.
	InFlight int64 `json:"in_flight"`
}

type counters struct {
	requests, batchRequests, recipients, delivered, distinct, duplicates atomic.Uint64
	errors, timeouts, rateLimited, rejected, abandoned, badRequests      atomic.Uint64
	unauthorized                                                         atomic.Uint64
	inFlight                                                             atomic.Int64
}

// List selects which members a DeliveryQuery lists.
type List string

const (
	// ListExceptions (default) lists members whose count is not 1: without a
	// range, the duplicated ones; with a range, also the range's members never
	// delivered and the members delivered outside the range.
	ListExceptions List = "exceptions"
	// ListDelivered lists every delivered member with its count.
	ListDelivered List = "delivered"
)

// DeliveryQuery selects a delivery report.
type DeliveryQuery struct {
	// CampaignID is the campaign (required).
	CampaignID uint64
	// Channel restricts the report to one channel (default: every channel
	// that had a delivery).
	Channel provider.Channel
	// From and To (inclusive, To > 0 enables it) are the member ids expected
	// to be delivered exactly once; members outside are expected not to be.
	From, To uint64
	// List selects the listed members (default ListExceptions).
	List List
	// Limit caps the listed members (default 1000, at most 10,000,000).
	Limit int
}

// maxRange bounds To-From of a DeliveryQuery.
const maxRange = 1 << 27

func (q *DeliveryQuery) normalize() error {
	if q.CampaignID == 0 {
		return errors.New("campaign_id is required")
	}
	if q.Channel != "" && !q.Channel.Valid() {
		return fmt.Errorf("channel %q: %w", string(q.Channel), provider.ErrUnknownChannel)
	}
	if q.To > 0 && (q.From > q.To || q.To-q.From >= maxRange) {
		return fmt.Errorf("range %d..%d: want from <= to and fewer than %d members", q.From, q.To, maxRange)
	}
	if q.List == "" {
		q.List = ListExceptions
	}
	if q.List != ListExceptions && q.List != ListDelivered {
		return fmt.Errorf("list %q: want %q or %q", q.List, ListExceptions, ListDelivered)
	}
	if q.Limit == 0 {
		q.Limit = 1000
	}
	if q.Limit < 0 || q.Limit > 10_000_000 {
		return fmt.Errorf("limit %d outside 1..10000000", q.Limit)
	}
	return nil
}

// DeliveryReport is the per-channel delivery report of one campaign.
type DeliveryReport struct {
	// CampaignID is the campaign.
	CampaignID uint64 `json:"campaign_id"`
	// Channels holds one entry per channel, sorted by name.
	Channels []ChannelDeliveries `json:"channels"`
}

// Channel returns the report of ch (zero counts when nothing was delivered).
func (r DeliveryReport) Channel(ch provider.Channel) ChannelDeliveries {
	for _, c := range r.Channels {
		if c.Channel == ch {
			return c
		}
	}
	return ChannelDeliveries{Channel: ch}
}

// ChannelDeliveries reports the deliveries of one campaign on one channel.
type ChannelDeliveries struct {
	// Channel is the channel.
	Channel provider.Channel `json:"channel"`
	// Distinct counts members delivered at least once.
	Distinct uint64 `json:"distinct"`
	// Deliveries counts every delivery.
	Deliveries uint64 `json:"deliveries"`
	// Duplicates counts deliveries beyond the first per member.
	Duplicates uint64 `json:"duplicates"`
	// DuplicatedMembers counts members delivered more than once.
	DuplicatedMembers uint64 `json:"duplicated_members"`
	// Missing counts members of the query's range never delivered.
	Missing uint64 `json:"missing"`
	// Unexpected counts members outside the query's range that were delivered.
	Unexpected uint64 `json:"unexpected"`
	// Exceptions lists members by ascending id, as the query's List says.
	Exceptions []MemberCount `json:"exceptions"`
	// Truncated reports that Exceptions hit the query's Limit.
	Truncated bool `json:"truncated"`
}

// MemberCount is how many times one member was delivered (saturating at 255).
type MemberCount struct {
	// MemberID is the member.
	MemberID uint64 `json:"member_id"`
	// Count is the number of deliveries.
	Count int `json:"count"`
}

// Faults are the fault rates of send calls, fractions in [0, 1] whose sum
// is at most 1: Config's at start, switchable while running (SetFaults,
// PUT /faults) to simulate a provider that fails for a spell.
type Faults struct {
	// ErrorRate is the fraction of calls answered 500.
	ErrorRate float64 `json:"error_rate"`
	// TimeoutRate is the fraction of calls that never answer.
	TimeoutRate float64 `json:"timeout_rate"`
	// RateLimit429Rate is the fraction of calls answered 429 with Retry-After.
	RateLimit429Rate float64 `json:"rate_limit_429_rate"`
}

// validate checks the rates.
func (f Faults) validate() error {
	for name, r := range map[string]float64{"ErrorRate": f.ErrorRate, "TimeoutRate": f.TimeoutRate, "RateLimit429Rate": f.RateLimit429Rate} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("%w: %s %v outside [0, 1]", ErrInvalidConfig, name, r)
		}
	}
	if sum := f.ErrorRate + f.TimeoutRate + f.RateLimit429Rate; sum > 1 {
		return fmt.Errorf("%w: fault rates add up to %v > 1", ErrInvalidConfig, sum)
	}
	return nil
}

// Simulator is an http.Handler simulating a messaging provider that speaks
// the wire format of package provider. It is safe for concurrent use.
type Simulator struct {
	cfg    Config
	faults atomic.Pointer[Faults]
	auth   []byte
	fail   map[uint64]struct{}
	store  *store
	c      counters
	seq    atomic.Uint64
	closed chan struct{}
	once   sync.Once
	bufs   sync.Pool
}

// New validates cfg and returns a simulator.
func New(cfg Config) (*Simulator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Simulator{
		cfg:    cfg,
		fail:   make(map[uint64]struct{}, len(cfg.FailMembers)),
		store:  newStore(),
		closed: make(chan struct{}),
	}
	s.faults.Store(&Faults{ErrorRate: cfg.ErrorRate, TimeoutRate: cfg.TimeoutRate, RateLimit429Rate: cfg.RateLimit429Rate})
	for _, m := range cfg.FailMembers {
		s.fail[m] = struct{}{}
	}
	if cfg.Token != "" {
		s.auth = []byte("Bearer " + cfg.Token)
	}
	s.bufs.New = func() any { return bytes.NewBuffer(make([]byte, 0, 1024)) }
	return s, nil
}

// Config returns the simulator's configuration, defaults filled in, with
// the fault rates in force now.
func (s *Simulator) Config() Config {
	c, f := s.cfg, s.Faults()
	c.ErrorRate, c.TimeoutRate, c.RateLimit429Rate = f.ErrorRate, f.TimeoutRate, f.RateLimit429Rate
	return c
}

// Faults returns the fault rates in force.
func (s *Simulator) Faults() Faults { return *s.faults.Load() }

// SetFaults replaces the fault rates from the next send call on (calls
// already held by an injected timeout stay held). The fault sequence is not
// restarted: with a fixed seed, the n-th call's draw is the same whatever
// the rates, and the rates decide its fate.
func (s *Simulator) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.Store(&f)
	return nil
}

// Close releases every call held by an injected timeout (they get a 503) and
// makes later ones answer at once the same way. Deliveries stay readable.
func (s *Simulator) Close() {
	s.once.Do(func() { close(s.closed) })
}

// Stats returns the counters.
func (s *Simulator) Stats() Stats {
	return Stats{
		Requests:      s.c.requests.Load(),
		BatchRequests: s.c.batchRequests.Load(),
		Recipients:    s.c.recipients.Load(),
		Delivered:     s.c.delivered.Load(),
		Distinct:      s.c.distinct.Load(),
		Duplicates:    s.c.duplicates.Load(),
		Errors:        s.c.errors.Load(),
		Timeouts:      s.c.timeouts.Load(),
		RateLimited:   s.c.rateLimited.Load(),
		Rejected:      s.c.rejected.Load(),
		Abandoned:     s.c.abandoned.Load(),
		BadRequests:   s.c.badRequests.Load(),
		Unauthorized:  s.c.unauthorized.Load(),
		InFlight:      s.c.inFlight.Load(),
	}
}

// Reset forgets every delivery and counter (except in-flight calls) and
// restarts the fault-injection sequence, so a run after Reset sees the same
// faults as the first run with the same seed.
func (s *Simulator) Reset() {
	s.store.reset()
	for _, c := range []*atomic.Uint64{
		&s.c.requests, &s.c.batchRequests, &s.c.recipients, &s.c.delivered, &s.c.distinct,
		&s.c.duplicates, &s.c.errors, &s.c.timeouts, &s.c.rateLimited, &s.c.rejected,
		&s.c.abandoned, &s.c.badRequests, &s.c.unauthorized,
	} {
		c.Store(0)
	}
	s.seq.Store(0)
}

// Deliveries reports the deliveries of a campaign.
func (s *Simulator) Deliveries(q DeliveryQuery) (DeliveryReport, error) {
	if err := q.normalize(); err != nil {
		return DeliveryReport{}, fmt.Errorf("query deliveries: %w", err)
	}
	chans := []provider.Channel{q.Channel}
	if q.Channel == "" {
		chans = s.store.channels(q.CampaignID)
	}
	rep := DeliveryReport{CampaignID: q.CampaignID, Channels: make([]ChannelDeliveries, 0, len(chans))}
	for _, ch := range chans {
		c := s.store.lookup(storeKey{q.CampaignID, ch})
		if c == nil {
			c = &counts{} // nothing delivered: still report the range as missing
		}
		rep.Channels = append(rep.Channels, c.report(ch, q))
	}
	return rep, nil
}

// Count returns how many times member was delivered campaign on ch.
func (s *Simulator) Count(campaign uint64, ch provider.Channel, member uint64) int {
	c := s.store.lookup(storeKey{campaign, ch})
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.get(member))
}

// ServeHTTP serves the send endpoints (POST to any other path: ".../batch"
// for batches, anything else for single messages), the read-back endpoints
// GET /stats, GET /deliveries, POST /reset and GET /healthz, and the fault
// switch GET and PUT /faults.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case FaultsPath:
		s.serveFaults(w, r)
		return
	case "/stats":
		if allowOnly(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, s.Stats())
		}
		return
	case "/deliveries":
		if allowOnly(w, r, http.MethodGet) {
			s.serveDeliveries(w, r)
		}
		return
	case "/reset":
		if allowOnly(w, r, http.MethodPost) {
			s.Reset()
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		}
		return
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	if allowOnly(w, r, http.MethodPost) {
		s.serveSend(w, r, strings.HasSuffix(r.URL.Path, "/batch"))
	}
}

func (s *Simulator) serveDeliveries(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	var q DeliveryQuery
	var err error
	num := func(name string) uint64 {
		if err != nil || v.Get(name) == "" {
			return 0
		}
		var n uint64
		n, err = strconv.ParseUint(v.Get(name), 10, 64)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return n
	}
	q.CampaignID = num("campaign_id")
	q.From = num("from")
	q.To = num("to")
	q.Limit = int(min(num("limit"), 1<<31))
	q.Channel = provider.Channel(v.Get("channel"))
	q.List = List(v.Get("list"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rep, err := s.Deliveries(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// FaultsPath is the admin endpoint reading (GET) and switching (PUT, a
// Faults JSON object) the fault rates of a running simulator.
const FaultsPath = "/faults"

// maxFaultsBody bounds a PUT /faults body.
const maxFaultsBody = 4 << 10

func (s *Simulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFaultsBody))
		if err != nil {
			writeError(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		var f Faults
		if err := strictjson.Decode(body, &f, strictjson.Options{}); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.cfg.Logger.Info("provider simulator: fault rates switched", "error_rate", f.ErrorRate,
			"timeout_rate", f.TimeoutRate, "rate_limit_429_rate", f.RateLimit429Rate)
	default:
		methodNotAllowed(w, http.MethodGet+", "+http.MethodPut)
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
}

// fate is what fault injection decided for one send call.
type fate int

const (
	fateOK fate = iota
	fateError
	fateTimeout
	fate429
)

// roll decides the fate and latency of the n-th send call, from the seed
// alone: the same n always gets the same draw.
func (s *Simulator) roll(n uint64) (fate, time.Duration) {
	h1 := splitmix64(s.cfg.Seed + n*0x9e3779b97f4a7c15)
	h2 := splitmix64(h1)
	h3 := splitmix64(h2)
	u := unit(h1)
	lat := s.cfg.Latency.sample(unit(h2), unit(h3))
	f := s.faults.Load()
	switch {
	case u < f.ErrorRate:
		return fateError, lat
	case u < f.ErrorRate+f.TimeoutRate:
		return fateTimeout, lat
	case u < f.ErrorRate+f.TimeoutRate+f.RateLimit429Rate:
		return fate429, lat
	}
	return fateOK, lat
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps h to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

func (s *Simulator) serveSend(w http.ResponseWriter, r *http.Request, batch bool) {
	s.c.inFlight.Add(1)
	defer s.c.inFlight.Add(-1)
	if s.auth != nil && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), s.auth) != 1 {
		s.c.unauthorized.Add(1)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.putBuf(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)); err != nil {
		s.c.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	var msgs []provider.WireMessage
	if batch {
		var req provider.WireBatchRequest
		if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
			s.c.badRequests.Add(1)
			writeError(w, http.StatusBadRequest, "decode batch: "+err.Error())
			return
		}
		if len(req.Messages) == 0 {
			s.c.badRequests.Add(1)
			writeError(w, http.StatusBadRequest, "empty batch")
			return
		}
		msgs = req.Messages
	} else {
		msgs = make([]provider.WireMessage, 1)
		if err := json.Unmarshal(buf.Bytes(), &msgs[0]); err != nil {
			s.c.badRequests.Add(1)
			writeError(w, http.StatusBadRequest, "decode message: "+err.Error())
			return
		}
	}
	for i := range msgs {
		if err := validate(&msgs[i]); err != nil {
			s.c.badRequests.Add(1)
			writeError(w, http.StatusBadRequest, fmt.Sprintf("message %d: %v", i, err))
			return
		}
	}

	n := s.seq.Add(1)
	s.c.requests.Add(1)
	if batch {
		s.c.batchRequests.Add(1)
	}
	s.c.recipients.Add(uint64(len(msgs)))
	f, lat := s.roll(n)

	if f == fateTimeout {
		s.c.timeouts.Add(1)
		t := time.NewTimer(s.cfg.MaxHang)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-s.closed:
			writeError(w, http.StatusServiceUnavailable, "simulator closing")
		case <-t.C:
			writeError(w, http.StatusGatewayTimeout, "simulated timeout")
		}
		return
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if r.Context().Err() != nil {
		s.c.abandoned.Add(1)
		return // nobody to answer: nothing counts as delivered
	}
	switch f {
	case fateError:
		s.c.errors.Add(1)
		writeError(w, http.StatusInternalServerError, "simulated provider error")
		return
	case fate429:
		s.c.rateLimited.Add(1)
		w.Header().Set("Retry-After", strconv.FormatInt(int64(s.cfg.RetryAfter/time.Second), 10))
		writeError(w, http.StatusTooManyRequests, "simulated rate limit")
		return
	}

	out := buf // the body is decoded; reuse its buffer for the answer
	out.Reset()
	if !batch {
		m := &msgs[0]
		if _, bad := s.fail[m.MemberID]; bad {
			s.c.rejected.Add(1)
			writeError(w, http.StatusUnprocessableEntity, "recipient rejected (simulated)")
			return
		}
		s.deliver(m)
		out.WriteString(`{"ok":true,"id":"sim-`)
		out.Write(strconv.AppendUint(out.AvailableBuffer(), n, 10))
		out.WriteString(`"}`)
		writeRaw(w, http.StatusOK, out.Bytes())
		return
	}
	out.WriteString(`{"results":[`)
	for i := range msgs {
		m := &msgs[i]
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`{"member_id":`)
		out.Write(strconv.AppendUint(out.AvailableBuffer(), m.MemberID, 10))
		if _, bad := s.fail[m.MemberID]; bad {
			s.c.rejected.Add(1)
			out.WriteString(`,"ok":false,"error":"recipient rejected (simulated)"}`)
			continue
		}
		s.deliver(m)
		out.WriteString(`,"ok":true,"id":"sim-`)
		out.Write(strconv.AppendUint(out.AvailableBuffer(), n, 10))
		out.WriteByte('-')
		out.Write(strconv.AppendInt(out.AvailableBuffer(), int64(i), 10))
		out.WriteString(`"}`)
	}
	out.WriteString("]}")
	writeRaw(w, http.StatusOK, out.Bytes())
}

func (s *Simulator) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // do not pin huge buffers
		s.bufs.Put(b)
	}
}

// deliver counts one delivery.
func (s *Simulator) deliver(m *provider.WireMessage) {
	c := s.store.counts(storeKey{m.CampaignID, m.Channel})
	c.mu.Lock()
	dup := c.add(m.MemberID)
	c.mu.Unlock()
	s.c.delivered.Add(1)
	if dup {
		s.c.duplicates.Add(1)
	} else {
		s.c.distinct.Add(1)
	}
}

func validate(m *provider.WireMessage) error {
	switch {
	case m.IdempotencyKey == "":
		return errors.New("idempotency_key is required")
	case !m.Channel.Valid():
		return errors.New("channel is required")
	case m.To == "":
		return errors.New("to is required")
	case m.MemberID == 0:
		return errors.New("member_id is required")
	case m.CampaignID == 0:
		return errors.New("campaign_id is required")
	case m.Body == "":
		return errors.New("body is required")
	}
	return nil
}

// allowOnly reports whether r uses method; if not, it answers 405 Method
// Not Allowed (allowing method).
func allowOnly(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method != method {
		methodNotAllowed(w, method)
		return false
	}
	return true
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, provider.WireError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
