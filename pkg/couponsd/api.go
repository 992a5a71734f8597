package couponsd

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	pathpkg "path"
	"slices"
	"strconv"
	"strings"
	"time"

	"mkt/pkg/coupon"
	"mkt/pkg/daemon"
	"mkt/pkg/store"
	"mkt/pkg/strictjson"
)

// API error codes, the "code" of every error body (see docs/COUPONS.md).
const (
	CodeInvalidRequest  = "invalid_request"    // 400: malformed JSON, bad id, bad field
	CodeUnauthorized    = "unauthorized"       // 401: missing or wrong bearer token
	CodeNotOwner        = "not_owner"          // 403: the item belongs to another member
	CodeNotFound        = "not_found"          // 404: no such item, coupon or route
	CodeMethod          = "method_not_allowed" // 405
	CodeConflict        = "conflict"           // 409: wrong state (locked by another order, redeemed, disabled...)
	CodeExpired         = "expired"            // 409: the item's window has ended
	CodeNotYetValid     = "not_yet_valid"      // 409: the item's window has not started
	CodeThresholdNotMet = "threshold_not_met"  // 422: order total below the coupon's threshold
	CodeInternal        = "internal"           // 500: the service failed; retry later
)

// maxBodyBytes bounds a request body (a bulk issue of 10,000 ids fits).
const maxBodyBytes = 1 << 20

// maxBulkMembers bounds one bulk issue request.
const maxBulkMembers = 10_000

// APIConfig configures the HTTP API.
type APIConfig struct {
	// DB is where coupons live; required.
	DB *store.DB
	// Token is the bearer token every request must carry; required.
	Token string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// NewAPI returns the coupon lifecycle HTTP JSON API:
//
//	GET  /v1/members/{member_id}/items?status=&limit=   a member's coupons
//	GET  /v1/items/{item_id}                            one item
//	POST /v1/items/{item_id}/claim    {"member_id"}
//	POST /v1/items/{item_id}/lock     {"member_id","order_id","order_total_cents"}
//	POST /v1/items/{item_id}/release  {"order_id","member_id"?}
//	POST /v1/items/{item_id}/redeem   {"order_id","member_id"?}
//	GET  /v1/coupons/{coupon_id}                        a coupon
//	POST /v1/coupons/{coupon_id}/issue {"member_ids":[...]}  bulk, idempotent
//
// Every request needs "Authorization: Bearer <token>". Transitions answer
// {"item":…,"changed":bool,"discount_cents":n}; errors answer ErrorBody with
// one of the Code* codes.
func NewAPI(cfg APIConfig) (http.Handler, error) {
	if cfg.DB == nil {
		return nil, errors.New("couponsd: API needs a DB")
	}
	if cfg.Token == "" {
		return nil, errors.New("couponsd: API needs a bearer token")
	}
	a := &api{db: cfg.DB, token: []byte(cfg.Token), log: cmp.Or(cfg.Logger, slog.Default()), now: cfg.Now}
	if a.now == nil {
		a.now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/members/{member_id}/items", a.memberItems)
	mux.HandleFunc("GET /v1/items/{item_id}", a.item)
	mux.HandleFunc("POST /v1/items/{item_id}/claim", a.claim)
	mux.HandleFunc("POST /v1/items/{item_id}/lock", a.lock)
	mux.HandleFunc("POST /v1/items/{item_id}/release", a.release)
	mux.HandleFunc("POST /v1/items/{item_id}/redeem", a.redeem)
	mux.HandleFunc("GET /v1/coupons/{coupon_id}", a.coupon)
	mux.HandleFunc("POST /v1/coupons/{coupon_id}/issue", a.issue)
	return cleanPaths(a.auth(muxErrorsJSON(mux))), nil
}

// cleanPaths answers 400 to a path that is not in its clean form ("..",
// ".", "//"): the mux would redirect /v1/members/1/../2/items to another
// member's items.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		raw := strings.ToLower(r.URL.RawPath)
		if p == "" || p != pathpkg.Clean(p) || strings.Contains(raw, "%2f") || strings.Contains(raw, "%2e") || strings.Contains(raw, "%5c") {
			writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the path must be in its clean form (no .., . or //)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type api struct {
	db    *store.DB
	token []byte
	log   *slog.Logger
	now   func() time.Time
}

// auth checks the bearer token in constant time.
func (a *api) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="couponsd"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// muxErrorsJSON turns the mux's own plain-text 404 and 405 answers into
// JSON errors.
func muxErrorsJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&muxErrorWriter{ResponseWriter: w, r: r}, r)
	})
}

type muxErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	if m.Header().Get("Content-Type") != "application/json" {
		switch code {
		case http.StatusNotFound:
			m.swallow = true
			writeError(m.ResponseWriter, code, CodeNotFound, "no such route: "+m.r.Method+" "+m.r.URL.Path)
			return
		case http.StatusMethodNotAllowed:
			m.swallow = true
			writeError(m.ResponseWriter, code, CodeMethod, "method "+m.r.Method+" not allowed on "+m.r.URL.Path)
			return
		}
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.swallow {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

// fail answers err with the matching status and code.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, CodeInternal
	switch {
	case errors.Is(err, coupon.ErrInvalid):
		status, code = http.StatusBadRequest, CodeInvalidRequest
	case errors.Is(err, coupon.ErrNotFound):
		status, code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, coupon.ErrNotOwner):
		status, code = http.StatusForbidden, CodeNotOwner
	case errors.Is(err, coupon.ErrExpired):
		status, code = http.StatusConflict, CodeExpired
	case errors.Is(err, coupon.ErrNotYetValid):
		status, code = http.StatusConflict, CodeNotYetValid
	case errors.Is(err, coupon.ErrConflict):
		status, code = http.StatusConflict, CodeConflict
	case errors.Is(err, coupon.ErrThreshold):
		status, code = http.StatusUnprocessableEntity, CodeThresholdNotMet
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		a.log.Error("couponsd: API request failed", "method", r.Method, "path", r.URL.Path, "error", msg)
		msg = "internal error; retry later"
	}
	writeError(w, status, code, msg)
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := store.ParseID(r.PathValue(name))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a positive integer", coupon.ErrInvalid, name, r.PathValue(name))
	}
	return int64(id), nil
}

// decode reads a request body strictly (strictjson): one JSON object of
// the documented keys, exactly spelled, each once, nothing after it.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("%w: request body: %w", coupon.ErrInvalid, err)
	}
	if err := strictjson.Decode(body, v, strictjson.Options{}); err != nil {
		return fmt.Errorf("%w: request body: %w", coupon.ErrInvalid, err)
	}
	return nil
}

func (a *api) memberItems(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "member_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	opts := coupon.MemberItemsOptions{Status: coupon.ItemStatus(r.URL.Query().Get("status"))}
	if opts.Status != "" && !slices.Contains(coupon.ItemStatuses(), opts.Status) {
		a.fail(w, r, fmt.Errorf("%w: status %q", coupon.ErrInvalid, opts.Status))
		return
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		if opts.Limit, err = strconv.Atoi(l); err != nil || opts.Limit < 1 {
			a.fail(w, r, fmt.Errorf("%w: limit %q", coupon.ErrInvalid, l))
			return
		}
	}
	items, err := coupon.MemberItems(r.Context(), a.db, id, opts)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if items == nil {
		items = []coupon.MemberItem{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"member_id": id, "items": items})
}

func (a *api) item(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "item_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	it, err := coupon.GetItem(r.Context(), a.db, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": it})
}

type transitionBody struct {
	MemberID        int64  `json:"member_id"`
	OrderID         string `json:"order_id"`
	OrderTotalCents int64  `json:"order_total_cents"`
}

// transition decodes the body and runs step on the item named in the path.
func (a *api) transition(w http.ResponseWriter, r *http.Request, step func(ctx context.Context, item int64, b transitionBody) (coupon.Transition, error)) {
	id, err := pathID(r, "item_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var b transitionBody
	if err := decode(r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := step(r.Context(), id, b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *api) claim(w http.ResponseWriter, r *http.Request) {
	a.transition(w, r, func(ctx context.Context, item int64, b transitionBody) (coupon.Transition, error) {
		return coupon.Claim(ctx, a.db, item, b.MemberID, a.now())
	})
}

func (a *api) lock(w http.ResponseWriter, r *http.Request) {
	a.transition(w, r, func(ctx context.Context, item int64, b transitionBody) (coupon.Transition, error) {
		return coupon.Lock(ctx, a.db, coupon.LockRequest{ItemID: item, MemberID: b.MemberID, OrderID: b.OrderID, OrderTotalCents: b.OrderTotalCents}, a.now())
	})
}

func (a *api) release(w http.ResponseWriter, r *http.Request) {
	a.transition(w, r, func(ctx context.Context, item int64, b transitionBody) (coupon.Transition, error) {
		return coupon.Release(ctx, a.db, item, b.MemberID, b.OrderID, a.now())
	})
}

func (a *api) redeem(w http.ResponseWriter, r *http.Request) {
	a.transition(w, r, func(ctx context.Context, item int64, b transitionBody) (coupon.Transition, error) {
		return coupon.Redeem(ctx, a.db, item, b.MemberID, b.OrderID, a.now())
	})
}

func (a *api) coupon(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "coupon_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := coupon.Get(r.Context(), a.db, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"coupon": c})
}

func (a *api) issue(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "coupon_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var b struct {
		MemberIDs []int64 `json:"member_ids"`
	}
	if err := decode(r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	if len(b.MemberIDs) == 0 || len(b.MemberIDs) > maxBulkMembers {
		a.fail(w, r, fmt.Errorf("%w: member_ids needs 1..%d ids (got %d)", coupon.ErrInvalid, maxBulkMembers, len(b.MemberIDs)))
		return
	}
	if _, err := coupon.Get(r.Context(), a.db, id); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := coupon.CheckMembers(r.Context(), a.db, b.MemberIDs); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := coupon.IssueToMembers(r.Context(), a.db, id, b.MemberIDs, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// NewAPIServer returns the daemon component serving handler on addr (":0"
// picks a port), with request timeouts suited to the API.
func NewAPIServer(addr string, handler http.Handler, log *slog.Logger) (*daemon.HTTPServer, error) {
	return daemon.NewHTTPServer(daemon.HTTPServerConfig{
		Name:         "coupon-api",
		Addr:         addr,
		Handler:      handler,
		Logger:       log,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 60 * time.Second,
	})
}
