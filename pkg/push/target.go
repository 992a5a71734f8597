package push

import (
	"context"
	"errors"
	"fmt"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
)

// target is what a shard task's run sends, whatever its kind: a promotion
// campaign, a push-mode coupon (issued to each page before it is
// announced), or a hot-goods run (each member sent its row of the day).
type target struct {
	kind     campaign.Kind
	id       uint64
	name     string // title of non-SMS messages
	status   campaign.Status
	channels []provider.Channel
	audience audience.Segment
	render   func(memberID uint64) string
	// perMember: the template uses {member_id}.
	perMember bool
	// coupon is set for KindCoupon: each page is issued it first, and only
	// its holders are messaged.
	coupon *coupon.Coupon
	// hot is set for KindHotGoods: each member is sent its row of the day,
	// if this run launched it.
	hot *hotTarget
}

// loadTarget reads the campaign a task names. A task of an unsupported
// kind, or naming an unknown campaign or a coupon that is not push-mode, is
// permanent.
func (w *Worker) loadTarget(ctx context.Context, t campaign.ShardTask) (*target, error) {
	switch t.Kind {
	case campaign.KindPromotion:
		c, err := campaign.Get(ctx, w.cfg.DB, t.CampaignID)
		if errors.Is(err, campaign.ErrNotFound) {
			return nil, mq.Permanent(fmt.Errorf("push: task %s: %w", t.Key(), err))
		}
		if err != nil {
			return nil, fmt.Errorf("push: task %s: %w", t.Key(), err)
		}
		return &target{kind: t.Kind, id: c.ID, name: c.Name, status: c.Status, channels: c.Channels,
			audience: c.Audience, render: c.Render, perMember: c.HasMemberPlaceholder()}, nil
	case campaign.KindCoupon:
		c, err := coupon.Get(ctx, w.cfg.DB, int64(t.CampaignID))
		if errors.Is(err, coupon.ErrNotFound) {
			return nil, mq.Permanent(fmt.Errorf("push: task %s: %w: %w", t.Key(), campaign.ErrNotFound, err))
		}
		if err != nil {
			return nil, fmt.Errorf("push: task %s: %w", t.Key(), err)
		}
		if c.Mode != coupon.ModePush {
			return nil, mq.Permanent(fmt.Errorf("%w: task %s names coupon %d, a %s coupon", ErrUnsupportedKind, t.Key(), c.ID, c.Mode))
		}
		return &target{kind: t.Kind, id: uint64(c.ID), name: c.Name, status: c.PushStatus, channels: c.Channels,
			audience: c.Audience, render: c.Render, perMember: c.HasMemberPlaceholder(), coupon: c}, nil
	case campaign.KindHotGoods:
		return w.loadHotTarget(ctx, t)
	}
	return nil, mq.Permanent(fmt.Errorf("%w: %s (task %s)", ErrUnsupportedKind, t.Kind, t.Key()))
}
