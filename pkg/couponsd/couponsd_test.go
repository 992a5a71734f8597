package couponsd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
	"mkt/pkg/coupon"
	"mkt/pkg/daemon"
	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/login"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// Integration tests use MariaDB (MKT_MYSQL_DSN), Redis (MKT_REDIS_ADDR) and
// RocketMQ (MKT_ROCKETMQ_NAMESRV, MKT_ROCKETMQ_BROKER), each test with its
// own database, key prefix, topic and consumer group. They fail when a
// service is unreachable unless MKT_SKIP_INTEGRATION=1.

// testTopic creates topic and deletes it (with the group's retry and
// dead-letter topics) when the test ends.
func testTopic(t testing.TB, cfg mq.Config, topic, group string) {
	t.Helper()
	mqtest.DeleteAtEnd(t, cfg, mq.RetryTopic(group), mq.DeadLetterTopic(group))
	mqtest.Topics(t, cfg, 8, topic)
}

func baseSpec(now time.Time) coupon.Spec {
	return coupon.Spec{
		Name: "10 off 100", Kind: coupon.KindAmount, AmountCents: 1000, ThresholdCents: 10000,
		ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(24 * time.Hour), PerMemberLimit: 1,
	}
}

// newCouponState returns the coupons' state in Redis c for database db.
func newCouponState(t testing.TB, c *cache.Client, db *store.DB) *coupon.State {
	t.Helper()
	st, err := coupon.NewState(coupon.StateConfig{Cache: c, Namespace: db.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// createCoupon creates a coupon of spec s in db and, unless st is nil, in
// Redis.
func createCoupon(t testing.TB, db *store.DB, st *coupon.State, s coupon.Spec, now time.Time) *coupon.Coupon {
	t.Helper()
	res, err := coupon.Create(t.Context(), db, st, s, "", now)
	if err != nil {
		t.Fatal(err)
	}
	return res.Coupon
}

// auditItems is coupon.AuditItems for coupon id, failing the test on an
// error.
func auditItems(t testing.TB, db *store.DB, id int64) coupon.Audit {
	t.Helper()
	a, err := coupon.AuditItems(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLoginsThroughRocketMQ runs two couponsd services in one consumer
// group on a real topic. Every event is published twice (redelivery), some
// members log in from several devices at once, a poison message is mixed
// in, and Redis loses the test's keys twice while events flow. Once
// settled: every member holds exactly its limit, the limited coupon issued
// exactly its quota, and both consumers did part of the work.
func TestLoginsThroughRocketMQ(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	storetest.SeedMembers(t, db, 3000)
	c := cachetest.Open(t, cache.Config{PoolSize: 64})
	mqc := mqtest.Config(t)
	sfx := mkttest.Namespace(t, "")
	topic, group := "coupontest_login_"+sfx, "coupontest_g_"+sfx
	testTopic(t, mqc, topic, group)
	ctx := t.Context()
	now := time.Now()

	st := newCouponState(t, c, db)
	s := baseSpec(now)
	s.PerMemberLimit = 2
	everyone := createCoupon(t, db, st, s, now)
	ls := baseSpec(now)
	ls.TotalQuota = new(int64)
	*ls.TotalQuota = 300
	limited := createCoupon(t, db, st, ls, now)

	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	var services []*Service
	for i, inst := range []string{"couponsd_a_" + sfx, "couponsd_b_" + sfx} {
		svc, err := New(Config{
			Options: Options{Group: group, Topic: topic, Instance: inst, Concurrency: 64,
				ActiveTTL: 50 * time.Millisecond, SyncInterval: 2 * time.Second, Lease: 3 * time.Second},
			DB: db, Cache: c, MQ: mqc, Logger: mkttest.Logger(), Registerer: regs[i],
		})
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, svc)
	}
	// Stopped one after the other, the last started first.
	var stops []func()
	for _, svc := range services {
		stops = append(stops, startAll(t, svc.Components()))
	}
	t.Cleanup(func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})

	p, err := mq.NewProducer(mq.ProducerConfig{Config: mqc})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown() }()
	pub := login.Publisher{Sender: p, Topic: topic}
	const members = 1500
	var evs []login.Event
	for m := int64(1); m <= members; m++ {
		evs = append(evs, login.Event{MemberID: m, LoginAt: now, DeviceID: "phone"})
		if m <= 40 { // the same member on several devices at once
			for d := range 4 {
				evs = append(evs, login.Event{MemberID: m, LoginAt: now.Add(time.Duration(d) * time.Millisecond), DeviceID: fmt.Sprint("tablet-", d)})
			}
		}
	}
	send := func(part []login.Event) {
		if err := pub.Publish(ctx, part...); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, part...); err != nil { // redelivery
			t.Fatal(err)
		}
	}
	if err := p.Send(ctx, mq.Message{Topic: topic, Tag: login.Tag, Body: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	third := len(evs) / 3
	// The cache is wiped twice while logins are being handled: the sleeps
	// place the wipes mid-run, which is the point, not a wait for anything.
	send(evs[:third])
	time.Sleep(300 * time.Millisecond)
	if _, err := c.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	send(evs[third : 2*third])
	time.Sleep(300 * time.Millisecond)
	if _, err := c.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	send(evs[2*third:])

	var full, holders int64
	defer func() {
		if t.Failed() {
			t.Logf("when last counted: %d of %d members held 2 items; the limited coupon had %d holders", full, members, holders)
		}
	}()
	mkttest.WaitFor(t, 120*time.Second, "every member to hold 2 items and the limited coupon 300 holders", func() bool {
		full, holders = auditItems(t, db, everyone.ID).Full, auditItems(t, db, limited.ID).Holders
		return full == members && holders == 300
	})
	time.Sleep(time.Second) // let stragglers (redeliveries) land: they must change nothing
	for _, id := range []int64{everyone.ID, limited.ID} {
		a := auditItems(t, db, id)
		for _, p := range a.Broken() {
			t.Error(p)
		}
		if q := a.Coupon.TotalQuota; q != nil && a.Items != *q {
			t.Errorf("coupon %d: %d items, quota %d", id, a.Items, *q)
		}
	}
	for i, reg := range regs {
		if v := mkttest.MetricValue(t, reg, "mkt_coupon_logins_total", nil); v == 0 {
			t.Errorf("service %d handled no login: the group did not share the work", i)
		}
	}
	_ = services
}

// startAll starts comps in order and returns the function stopping them in
// reverse order.
func startAll(t *testing.T, comps []daemon.Component) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	for _, c := range comps {
		if err := c.Start(ctx); err != nil {
			cancel()
			t.Fatalf("start %T: %v", c, err)
		}
	}
	return func() {
		defer cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		for i := len(comps) - 1; i >= 0; i-- {
			if err := comps[i].Stop(sctx); err != nil {
				t.Errorf("stop %T: %v", comps[i], err)
			}
		}
	}
}

type apiClient struct {
	t     *testing.T
	url   string
	token string
}

func (a apiClient) do(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string: // sent as it is
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		a.t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		a.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestAPI(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	storetest.SeedMembers(t, db, 100)
	ctx := t.Context()
	now := time.Now()
	id := createCoupon(t, db, nil, baseSpec(now), now).ID
	h, err := NewAPI(APIConfig{DB: db, Token: "s3cret", Logger: mkttest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	api := apiClient{t: t, url: srv.URL, token: "s3cret"}

	for _, tok := range []string{"", "wrong"} {
		code, body := apiClient{t: t, url: srv.URL, token: tok}.do("GET", "/v1/members/1/items", nil)
		if code != 401 || errCode(body) != CodeUnauthorized {
			t.Errorf("token %q: %d %v", tok, code, body)
		}
	}
	code, body := api.do("POST", fmt.Sprintf("/v1/coupons/%d/issue", id), map[string]any{"member_ids": []int64{1, 2, 2}})
	if code != 200 || body["issued"].(float64) != 2 {
		t.Fatalf("bulk issue: %d %v", code, body)
	}
	code, body = api.do("GET", "/v1/members/1/items", nil)
	items, _ := body["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("member items: %d %v", code, body)
	}
	item := int64(items[0].(map[string]any)["id"].(float64))
	path := func(step string) string { return fmt.Sprintf("/v1/items/%d/%s", item, step) }

	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", path("claim"), map[string]any{"member_id": 2}, 403, CodeNotOwner},
		{"POST", path("claim"), map[string]any{"member_id": 1}, 200, ""},
		{"POST", path("lock"), map[string]any{"member_id": 1, "order_id": "o-1", "order_total_cents": 500}, 422, CodeThresholdNotMet},
		{"POST", path("lock"), map[string]any{"member_id": 1, "order_id": "o-1", "order_total_cents": 20000}, 200, ""},
		// Locked again by the same order, now below the threshold: no discount.
		{"POST", path("lock"), map[string]any{"member_id": 1, "order_id": "o-1", "order_total_cents": 500}, 422, CodeThresholdNotMet},
		{"POST", path("lock"), map[string]any{"member_id": 1, "order_id": "o-1", "order_total_cents": 20000}, 200, ""},
		{"POST", path("lock"), map[string]any{"member_id": 1, "order_id": "o-2", "order_total_cents": 20000}, 409, CodeConflict},
		{"POST", path("redeem"), map[string]any{"order_id": "o-2"}, 409, CodeConflict},
		{"POST", path("redeem"), map[string]any{"order_id": "o-1"}, 200, ""},
		{"POST", path("release"), map[string]any{"order_id": "o-1"}, 409, CodeConflict},
		{"POST", path("lock"), map[string]any{"member_id": 1, "order_id": "", "order_total_cents": 1}, 400, CodeInvalidRequest},
		{"POST", path("lock"), map[string]any{"member_id": 1, "bogus": 1}, 400, CodeInvalidRequest},
		{"POST", "/v1/items/abc/claim", map[string]any{"member_id": 1}, 400, CodeInvalidRequest},
		{"POST", "/v1/items/99999/claim", map[string]any{"member_id": 1}, 404, CodeNotFound},
		{"GET", "/v1/coupons/99999", nil, 404, CodeNotFound},
		{"GET", "/v1/nothing", nil, 404, CodeNotFound},
		{"DELETE", path("claim"), nil, 405, CodeMethod},
		{"POST", fmt.Sprintf("/v1/coupons/%d/issue", id), map[string]any{"member_ids": []int64{}}, 400, CodeInvalidRequest},
		{"POST", fmt.Sprintf("/v1/coupons/%d/issue", id), map[string]any{"member_ids": []int64{1, 99999999999}}, 400, CodeInvalidRequest},
		// Bodies are read strictly: one object, keys exact and once.
		{"POST", path("claim"), `{"member_id":1} garbage`, 400, CodeInvalidRequest},
		{"POST", path("claim"), `{"Member_ID":1}`, 400, CodeInvalidRequest},
		{"POST", path("claim"), `{"member_id":2,"member_id":1}`, 400, CodeInvalidRequest},
		// Ids are plain decimals; paths are clean.
		{"GET", fmt.Sprintf("/v1/items/+%d", item), nil, 400, CodeInvalidRequest},
		{"GET", fmt.Sprintf("/v1/items/00%d", item), nil, 400, CodeInvalidRequest},
		{"GET", "/v1/members/2/../1/items", nil, 400, CodeInvalidRequest},
		{"GET", "/v1/members/1/items/./", nil, 400, CodeInvalidRequest},
		{"GET", "/v1//members/1/items", nil, 400, CodeInvalidRequest},
	} {
		code, body := api.do(tc.method, tc.path, tc.body)
		if code != tc.status || errCode(body) != tc.code {
			t.Errorf("%s %s %v: %d %v; want %d %q", tc.method, tc.path, tc.body, code, body, tc.status, tc.code)
		}
	}
	code, body = api.do("GET", fmt.Sprintf("/v1/items/%d", item), nil)
	if code != 200 || body["item"].(map[string]any)["status"] != "redeemed" {
		t.Errorf("item after redeem: %d %v", code, body)
	}
	// Expired: member 2's item window ends.
	if _, err := db.ExecContext(ctx, `UPDATE sales_promotion_coupon_item SET valid_until = ? WHERE member_id = 2`, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, body = api.do("GET", "/v1/members/2/items?status=issued", nil)
	items2, _ := body["items"].([]any)
	if len(items2) != 1 {
		t.Fatalf("member 2 items: %v", body)
	}
	item2 := int64(items2[0].(map[string]any)["id"].(float64))
	code, body = api.do("POST", fmt.Sprintf("/v1/items/%d/lock", item2), map[string]any{"member_id": 2, "order_id": "o-9", "order_total_cents": 20000})
	if code != 409 || errCode(body) != CodeExpired {
		t.Errorf("lock of an expired item: %d %v", code, body)
	}
	code, body = api.do("GET", "/v1/members/2/items?status=bogus", nil)
	if code != 400 || !strings.Contains(fmt.Sprint(body), "bogus") {
		t.Errorf("bad status filter: %d %v", code, body)
	}
}

func TestServiceAPIOnlyWithToken(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	c := cachetest.Open(t, cache.Config{PoolSize: 64})
	svc, err := New(Config{Options: Options{APIAddr: "127.0.0.1:0"}, DB: db, Cache: c, MQ: mq.Config{}, Logger: mkttest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if svc.API != nil {
		t.Error("API on without a token")
	}
	svc, err = New(Config{Options: Options{APIAddr: "127.0.0.1:0", APIToken: "t"}, DB: db, Cache: c, Logger: mkttest.Logger()})
	if err != nil || svc.API == nil {
		t.Fatalf("API with a token: %v", err)
	}
	if err := svc.API.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.API.Stop(context.Background()) }()
	resp, err := http.Get("http://" + svc.API.Addr().String() + "/v1/items/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated request: %d", resp.StatusCode)
	}
}

func TestSpecFlags(t *testing.T) {
	t.Parallel()
	var errb bytes.Buffer
	cmd := daemoncmd.Command(Spec(), &errb)
	for _, name := range []string{"group", "login-topic", "api-addr", "api-token-file", "batch-size", "consume-concurrency", "reservation-lease", "expire-interval"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
	}
	if cmd.Flags().Lookup("api-token") != nil {
		t.Error("the API token must not be a flag value (only --api-token-file)")
	}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "consumer group") {
		t.Errorf("--help: %v\n%s", err, out.String())
	}
}
