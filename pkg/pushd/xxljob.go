package pushd

import (
	"fmt"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/xxljob"
)

// xxlJobExecutor builds the XXL-Job executor serving the hotgoods job, or
// nil when no admin is configured (--xxl-job-admin). A trigger launches the
// day's hot-goods shard in-process, through the same transactional producer
// (and check-back group) as every create of this pushd.
func xxlJobExecutor(env *daemoncmd.Env, o *Options, tx campaign.TxSender, eventsTopic string) (daemon.Component, error) {
	if !o.XXLJob.Enabled() {
		return nil, nil
	}
	zone, err := o.XXLJob.Location()
	if err != nil {
		return nil, err
	}
	h, err := xxljob.NewHotGoods(xxljob.HotGoodsConfig{
		DB:        env.Deps.DB,
		Creator:   campaign.Creator{DB: env.Deps.DB, Tx: tx, Topic: eventsTopic},
		Zone:      zone,
		CreatedBy: "xxl-job:" + o.Instance,
	})
	if err != nil {
		return nil, err
	}
	ex, err := xxljob.New(o.XXLJob.Config(map[string]xxljob.Handler{xxljob.HotGoodsHandlerName: h}, env.Logger, env.Registry))
	if err != nil {
		return nil, fmt.Errorf("pushd: %w", err)
	}
	return ex, nil
}
