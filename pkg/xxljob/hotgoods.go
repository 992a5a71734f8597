package xxljob

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// HotGoodsHandlerName is the JobHandler name of the hot-goods job.
const HotGoodsHandlerName = "hotgoods"

// HotGoodsConfig configures the hot-goods job handler.
type HotGoodsConfig struct {
	// DB holds the day's rows and the runs. Required.
	DB *store.DB
	// Creator launches a run atomically with its created event (its Tx
	// producer's check-back must be campaign.TxCheck). Required.
	Creator campaign.Creator
	// Zone gives a trigger's date when executorParams names none. Default
	// time.Local.
	Zone *time.Location
	// CreatedBy names the launcher in the runs. Default "xxl-job".
	CreatedBy string
}

// HotGoods is the "hotgoods" job handler: each trigger launches the day's
// pending hot-goods rows of its shard — broadcastIndex of broadcastTotal, by
// hotgoods.ShardOf — exactly as `mktctl hotgoods run --date D --shard-index
// I --shard-total N` does, in-process. Launches are idempotent: a second
// trigger of the same day and shard (a retry, a misfire, two admins) finds
// the rows taken and launches nothing.
//
// executorParams is empty (the trigger's date in Zone) or a date
// "2026-12-02".
type HotGoods struct{ cfg HotGoodsConfig }

// NewHotGoods validates cfg.
func NewHotGoods(cfg HotGoodsConfig) (*HotGoods, error) {
	if cfg.DB == nil || cfg.Creator.Tx == nil {
		return nil, errors.New("xxljob: hotgoods handler: DB and Creator.Tx are required")
	}
	if cfg.Creator.DB == nil {
		cfg.Creator.DB = cfg.DB
	}
	if cfg.Zone == nil {
		cfg.Zone = time.Local
	}
	cfg.CreatedBy = textlimit.Bytes(cmp.Or(cfg.CreatedBy, "xxl-job"), campaign.MaxCreatedByLen)
	return &HotGoods{cfg: cfg}, nil
}

// CheckParams accepts an empty executorParams or a date YYYY-MM-DD.
func (h *HotGoods) CheckParams(params string) error {
	_, _, err := parseDateParam(params)
	return err
}

func parseDateParam(params string) (time.Time, bool, error) {
	s := strings.TrimSpace(params)
	if s == "" {
		return time.Time{}, false, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, false, errors.New(`want empty (the trigger's date) or a date such as "2026-12-02"`)
	}
	return d, true, nil
}

// Execute launches the trigger's day and shard.
func (h *HotGoods) Execute(ctx context.Context, job *Job) (string, error) {
	date, given, err := parseDateParam(job.Params)
	if err != nil {
		return "", fmt.Errorf("executorParams %q: %w", job.Params, err)
	}
	if !given {
		y, m, d := job.TriggerTime.In(h.cfg.Zone).Date()
		date = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		job.Logf("date %s: the trigger's date in %s", date.Format(time.DateOnly), h.cfg.Zone)
	} else {
		job.Logf("date %s: from executorParams", date.Format(time.DateOnly))
	}
	opts := hotgoods.LaunchOptions{Date: date, ShardIndex: job.ShardIndex, ShardTotal: job.ShardTotal,
		CreatedBy: h.cfg.CreatedBy, RequestID: campaign.NewRequestID("xxljob")}
	job.Logf("launching the pending rows of shard %d of %d (request id %s)", opts.ShardIndex, opts.ShardTotal, opts.RequestID)
	res, err := hotgoods.Launch(ctx, h.cfg.DB, h.cfg.Creator, opts)
	if err != nil {
		return "", fmt.Errorf("hot goods %s (shard %d of %d): %w", res.Date, res.ShardIndex, res.ShardTotal, err)
	}
	for _, r := range res.Taken {
		job.Logf("row %d %q (%s, priority %d): taken", r.ID, r.Segment, r.GoodsKind, r.Priority)
	}
	for _, r := range res.Skipped {
		job.Logf("row %d %q (%s, priority %d): already launched by run %d", r.ID, r.Segment, r.GoodsKind, r.Priority, deref(r.RunID))
	}
	var msg string
	switch {
	case res.Run != nil:
		msg = fmt.Sprintf("run %d launched: %d row(s) of %s (shard %d of %d), %d already launched; mktctl watch hot_goods:%d",
			res.Run.ID, len(res.Taken), res.Date, res.ShardIndex, res.ShardTotal, len(res.Skipped), res.Run.ID)
	case len(res.Skipped) > 0:
		msg = fmt.Sprintf("nothing to launch: %d row(s) of %s (shard %d of %d), all already launched",
			len(res.Skipped), res.Date, res.ShardIndex, res.ShardTotal)
	default:
		msg = fmt.Sprintf("nothing to launch: no hot-goods row of %s in shard %d of %d (was the day imported?)",
			res.Date, res.ShardIndex, res.ShardTotal)
	}
	job.Logf("%s", msg)
	return msg, nil
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}
