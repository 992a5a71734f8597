package cli

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/config"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

const campaignLong = `campaign manages promotion campaigns pushed to members over SMS, e-mail,
app push and the in-site inbox.

create stores a campaign and publishes its "created" event atomically (a
RocketMQ transactional message); pushd plans it (shards, shard tasks) and
fans it out. create never counts the audience, so it returns at once whatever
the audience size; "mktctl plan" previews what a campaign would do.

Lifecycle: created → planning → running → completed, with paused (resume goes
back to running), cancelled, and failed when planning is impossible. pause,
resume and cancel reach every pushd within seconds; retry-failed re-sends only
to the members whose delivery failed.`

// campaignQueues are the RocketMQ names the campaign commands use: the
// campaign package's names in the configured namespace (--mq-namespace), the
// same as pushd's.
type campaignQueues struct {
	EventsTopic string
	ShardTopic  string
	TxGroup     string
}

// fill sets the names from the resolved settings; the root command calls it
// before any subcommand runs.
func (q *campaignQueues) fill(c *config.Common) {
	q.EventsTopic = c.Topic(campaign.TopicEvents)
	q.ShardTopic = c.Topic(campaign.TopicShards)
	q.TxGroup = c.Topic(campaign.GroupTx)
}

func (q *campaignQueues) mqConfig(app *App) mq.Config {
	return mq.Config{NameServer: app.Common.RocketMQNameServer, BrokerAddr: app.Common.RocketMQBroker, Logger: app.Logger}
}

// txProducer starts a transactional producer in the campaign group; the
// caller shuts it down. Starting costs no round trip: the client connects
// on the first send.
func (q *campaignQueues) txProducer(app *App, db store.Handler) (*mq.TxProducer, error) {
	p, err := mq.NewTxProducer(mq.TxProducerConfig{Config: q.mqConfig(app), Group: q.TxGroup,
		Check: campaign.TxCheck(db, app.Logger, nil)})
	if err != nil {
		return nil, fmt.Errorf("%w: RocketMQ at %s: %w", ErrUnavailable, app.Common.RocketMQNameServer, err)
	}
	return p, nil
}

// producer starts a plain producer; the caller shuts it down.
func (q *campaignQueues) producer(app *App) (*mq.Producer, error) {
	p, err := mq.NewProducer(mq.ProducerConfig{Config: q.mqConfig(app), Group: "mkt_mktctl"})
	if err != nil {
		return nil, fmt.Errorf("%w: RocketMQ at %s: %w", ErrUnavailable, app.Common.RocketMQNameServer, err)
	}
	return p, nil
}

func shutdown(app *App, what string, stop func() error) {
	if err := stop(); err != nil {
		app.Logger.Warn("mktctl: shut down "+what, slog.String("error", err.Error()))
	}
}

// newCampaignCmd is the campaign group. Its commands live in campaign_*.go:
// create (campaign_create.go), list and show (campaign_show.go), pause,
// resume, cancel and retry-failed (campaign_control.go), failures
// (campaign_failures.go); the flags describing a campaign, shared with
// plan, in campaign_spec.go.
func newCampaignCmd(app *App) *cobra.Command {
	q := &campaignQueues{}
	cmd := &cobra.Command{
		Use:   "campaign",
		Short: "Create, list, show, pause, resume, cancel and retry promotion campaigns",
		Long:  campaignLong,
	}
	app.afterResolve = append(app.afterResolve, func(a *App) { q.fill(&a.Common) })
	cmd.AddCommand(
		newCampaignCreateCmd(app, q, nil),
		newCampaignListCmd(app, nil),
		newCampaignShowCmd(app, nil),
		newCampaignFailuresCmd(app, nil),
	)
	for _, action := range campaign.Actions() {
		cmd.AddCommand(newCampaignControlCmd(app, q, action, nil))
	}
	return cmd
}

// campaignError maps campaign errors to the exit codes: invalid input is a
// usage error, an unreachable broker "unavailable", the rest failures.
func campaignError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUsage), errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, campaign.ErrInvalid):
		return asUsage(err)
	case errors.Is(err, campaign.ErrNotPublished):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
