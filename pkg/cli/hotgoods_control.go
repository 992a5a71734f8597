package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// --- pause, resume, cancel, retry-failed

func newHotgoodsControlCmd(app *App, q *campaignQueues, action string, runF func(string, *controlOptions) error) *cobra.Command {
	short := strings.ToUpper(action[:1]) + action[1:] + " a hot-goods run, as `campaign " + action + "` does a promotion"
	return newControlCmd(app, q, hotgoodsControl, action, "RUN_ID", short, "", runF)
}
