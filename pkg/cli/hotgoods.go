package cli

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/provider"
)

const hotgoodsLong = `hotgoods pushes each user-portrait segment its daily hot goods.

Every day the recommender produces, per segment and goods kind, a ranked list
of goods, a message template, channels and a priority (docs/HOTGOODS.md). They
are imported for a date (import), then launched (run) as a campaign of kind
hot_goods that pushd plans and fans out like a promotion: shards, leases,
checkpoints, pause/resume/cancel, retry-failed, per-recipient records.

A member in several segments gets one hot-goods push a day: the message of
the highest-priority row whose segment they fall in (ties: the lower row id).
The run's shards cover the member id range once and each member's row is
resolved as the workers page through the members, so a day of 200 segments
costs one pass over the members, not one per segment.`

// newHotgoodsCmd is the hotgoods group. Its commands live in hotgoods_*.go:
// import (hotgoods_import.go), list and show (hotgoods_show.go), run
// (hotgoods_run.go), pause, resume, cancel and retry-failed
// (hotgoods_control.go).
func newHotgoodsCmd(app *App) *cobra.Command {
	q := &campaignQueues{}
	cmd := &cobra.Command{
		Use:   "hotgoods",
		Short: "Daily hot goods per portrait segment: import the day's rows, launch them, control the runs",
		Long:  hotgoodsLong,
	}
	app.afterResolve = append(app.afterResolve, func(a *App) { q.fill(&a.Common) })
	cmd.AddCommand(
		newHotgoodsImportCmd(app, nil),
		newHotgoodsListCmd(app, nil),
		newHotgoodsShowCmd(app, nil),
		newHotgoodsRunCmd(app, q, nil),
	)
	for _, action := range campaign.Actions() {
		cmd.AddCommand(newHotgoodsControlCmd(app, q, action, nil))
	}
	return cmd
}

// hotgoodsError maps hot-goods errors to exit codes: invalid input is a
// usage error.
func hotgoodsError(err error) error {
	if errors.Is(err, hotgoods.ErrInvalid) {
		err = asUsage(err)
	}
	return campaignError(err)
}

func parseHotgoodsDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageErrorf("--date is required (YYYY-MM-DD)")
	}
	d, err := hotgoods.ParseDate(s)
	if err != nil {
		return time.Time{}, usageErrorf("--date: %v", err)
	}
	return d, nil
}

func channelNames(chs []provider.Channel) string {
	names := make([]string, len(chs))
	for i, c := range chs {
		names[i] = string(c)
	}
	return strings.Join(names, ",")
}
