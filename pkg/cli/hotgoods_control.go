package cli

import (
	"strings"

	"mkt/pkg/campaign"

	"github.com/spf13/cobra"
)

// --- pause, resume, cancel, retry-failed

func newHotgoodsControlCmd(app *App, q *campaignQueues, action campaign.Action, runF func(string, *controlOptions) error) *cobra.Command {
	a := string(action)
	short := strings.ToUpper(a[:1]) + a[1:] + " a hot-goods run, as `campaign " + a + "` does a promotion"
	return newControlCmd(app, q, hotgoodsControl, action, "RUN_ID", short, "", runF)
}
