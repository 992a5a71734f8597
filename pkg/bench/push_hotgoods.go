package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// launchHotgoods imports a generated day of --hotgoods-segments rows, all
// on --channel, for the day after the last one in the database, and
// launches it as one run (what `mktctl hotgoods run --date D` does).
func (r *pushRun) launchHotgoods(ctx context.Context, cr campaign.Creator) error {
	var last *time.Time
	if err := r.db.GetContext(ctx, &last, `SELECT MAX(run_date) FROM hot_goods_crontab`); err != nil {
		return fmt.Errorf("bench: last hot-goods day: %w", store.MapError(err))
	}
	date := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if last != nil && !last.Before(date) {
		date = last.AddDate(0, 0, 1)
	}
	gen := hotgoods.Generate(r.o.HotgoodsSegments, uint64(date.Unix()))
	rows := make([]hotgoods.ParsedRow, len(gen))
	for i, in := range gen {
		in.Channels = []provider.Channel{provider.Channel(r.o.Channel)}
		rows[i] = hotgoods.ParsedRow{Line: i + 1, Input: in}
	}
	if _, err := hotgoods.Import(ctx, r.db, date, rows); err != nil {
		return err
	}
	start := time.Now()
	res, err := hotgoods.Launch(ctx, r.db, cr, hotgoods.LaunchOptions{Date: date, ShardSize: r.o.ShardSize, CreatedBy: "mktctl bench"})
	if err != nil {
		return err
	}
	r.launchSecs = time.Since(start).Seconds()
	if res.Run == nil {
		return fmt.Errorf("bench: hot-goods day %s launched nothing", res.Date)
	}
	r.id, r.kind = res.Run.ID, campaign.KindHotGoods
	r.progress("hot-goods run %d launched: %d segment rows of %s in %.3f s", r.id, len(res.Taken), res.Date, r.launchSecs)
	return nil
}

// auditHotgoods audits the run against the members who fall in any of its
// segments and have an address on the channel: all the day's rows are the
// run's, so each such member is sent exactly one message.
func (r *pushRun) auditHotgoods(ctx context.Context) (Audit, error) {
	rows, err := hotgoods.RunRows(ctx, r.db, r.id)
	if err != nil {
		return Audit{}, err
	}
	ch := provider.Channel(r.o.Channel)
	col, err := AddressColumn(ch)
	if err != nil {
		return Audit{}, err
	}
	var conds []string
	var args []any
	for _, row := range rows {
		w, a := row.Filter.Where("f")
		conds = append(conds, "("+w+")")
		args = append(args, a...)
	}
	q := `SELECT a.id FROM membership_account a JOIN membership_filter f ON f.member_id = a.id
		WHERE a.status = 'active' AND a.` + col + ` <> '' AND (` + strings.Join(conds, " OR ") + `) ORDER BY a.id`
	return AuditQuery(ctx, r.db, r.sim.Simulator, r.id, ch, q, args...)
}
