package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/couponsd"
	"mkt/pkg/deadletter"
	"mkt/pkg/mq"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

const (
	dlqMaxIDs      = store.MaxListLimit // ids one `replay --id` takes: a full page of the list
	dlqBodyPreview = 120                // runes of body shown
)

func newEventsDLQCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List and replay dead-lettered events (login events couponsd gave up on)",
		Long: `dlq shows and re-drives the messages a consumer group gave up on. RocketMQ moves
a message to %DLQ%<group> after its last redelivery failed (couponsd: 8, about
5 minutes of retries), or at once when it breaks the contract; couponsd drains
that topic into MySQL (table mq_dead_letter, consumer group <group>_dlq, on by
default: --drain-dlq), where these commands read it. See docs/COUPONS.md,
"Dead letters".`,
	}
	cmd.AddCommand(newEventsDLQListCmd(app, nil), newEventsDLQReplayCmd(app, nil))
	return cmd
}

// checkDLQGroup refuses a --group the broker would refuse.
func checkDLQGroup(group string) error {
	if group == "" {
		return nil
	}
	if err := mq.CheckGroupName(group); err != nil {
		return usageErrorf("--group: %v", err)
	}
	return nil
}

// dlqOpen resolves --group (checked by checkDLQGroup; default couponsd's
// group in the --mq-namespace; an undrained group is a usage error) and
// returns it with the database.
func dlqOpen(ctx context.Context, app *App, flag string) (string, *store.DB, error) {
	group := flag
	if group == "" {
		group = app.Common.Topic(couponsd.DefaultGroup)
	}
	db, err := app.DB(ctx)
	if err != nil {
		return "", nil, err
	}
	if err := deadletter.CheckGroup(ctx, db, group); err != nil {
		if errors.Is(err, deadletter.ErrUnknownGroup) {
			return "", nil, usageErrorf("--group: %v", err)
		}
		return "", nil, err
	}
	return group, db, nil
}

type dlqListOptions struct {
	Group   string
	Limit   int
	Pending bool
}

// dlqLetterView is one dead letter in `events dlq list --json`.
type dlqLetterView struct {
	MsgID          string     `json:"msg_id"`
	Topic          string     `json:"topic"`
	Tag            string     `json:"tag"`
	Keys           []string   `json:"keys"`
	Reason         string     `json:"reason"`
	ReconsumeTimes int        `json:"reconsume_times"`
	BornAt         *time.Time `json:"born_at"`
	StoredAt       *time.Time `json:"stored_at"`
	DrainedAt      *time.Time `json:"drained_at"`
	ReplayedAt     *time.Time `json:"replayed_at"`
	ReplayedBy     string     `json:"replayed_by,omitempty"`
	ReplayOf       string     `json:"replay_of,omitempty"`
	BodyBytes      int        `json:"body_bytes"`
	BodyPreview    string     `json:"body_preview"`
}

// dlqListReport is `events dlq list --json`.
type dlqListReport struct {
	Group    string          `json:"group"`
	Pending  int64           `json:"pending"`
	Replayed int64           `json:"replayed"`
	Letters  []dlqLetterView `json:"dead_letters"`
}

func newEventsDLQListCmd(app *App, runF func(*dlqListOptions) error) *cobra.Command {
	o := &dlqListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--group G] [--limit N] [--pending]",
		Short: "List a consumer group's dead letters, newest first",
		Long: `list shows the dead letters couponsd drained for a consumer group (default
couponsd's, in the --mq-namespace), newest first: message id, original topic,
key (the member id of a login), why it was dead-lettered when known,
redeliveries it had, when it was sent (born) and dead-lettered (stored), whether
it was replayed, and the start of its body with control characters escaped.`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, o.validate, runF, runEventsDLQList),
	}
	f := cmd.Flags()
	f.StringVar(&o.Group, "group", "", "consumer group whose dead letters to list (default couponsd's group)")
	f.IntVar(&o.Limit, "limit", store.DefaultListLimit, limitUsage)
	f.BoolVar(&o.Pending, "pending", false, "only those not replayed yet")
	return cmd
}

func (o *dlqListOptions) validate() error {
	if err := inRange("--limit", o.Limit, 1, store.MaxListLimit); err != nil {
		return err
	}
	return checkDLQGroup(o.Group)
}

func runEventsDLQList(ctx context.Context, app *App, o *dlqListOptions) error {
	group, db, err := dlqOpen(ctx, app, o.Group)
	if err != nil {
		return err
	}
	counts, err := deadletter.Count(ctx, db, group)
	if err != nil {
		return err
	}
	letters, err := deadletter.List(ctx, db, deadletter.ListOptions{Group: group, Limit: o.Limit, PendingOnly: o.Pending})
	if err != nil {
		return err
	}
	rep := dlqListReport{Group: group, Pending: counts.Pending, Replayed: counts.Replayed, Letters: []dlqLetterView{}}
	for i := range letters {
		rep.Letters = append(rep.Letters, dlqView(&letters[i]))
	}
	return render(app, rep, writeDLQList)
}

// writeDLQList prints `events dlq list`: the counts, then the table.
func writeDLQList(w io.Writer, rep dlqListReport) error {
	fmt.Fprintf(w, "group %s: %d dead letters pending, %d replayed\n", rep.Group, rep.Pending, rep.Replayed)
	if len(rep.Letters) == 0 {
		return nil
	}
	rows := [][]string{{"MSG ID", "TOPIC", "KEY", "REASON", "RETRIES", "BORN", "STORED", "REPLAYED", "BODY"}}
	for _, v := range rep.Letters {
		reason := v.Reason
		if reason == "" {
			reason = "unknown"
		}
		rows = append(rows, []string{v.MsgID, v.Topic, dlqKeys(v.Keys), textlimit.RunesMarked(reason, 60), strconv.Itoa(v.ReconsumeTimes),
			utcTimeOr(v.BornAt, "-"), utcTimeOr(v.StoredAt, "-"), utcTimeOr(v.ReplayedAt, "-"), textlimit.RunesMarked(v.BodyPreview, 60)})
	}
	return table(w, rows)
}

func dlqView(l *deadletter.Letter) dlqLetterView {
	v := dlqLetterView{
		MsgID: l.MsgID, Topic: l.Topic, Tag: l.Tag, Keys: l.KeyList(), Reason: l.Reason, ReconsumeTimes: l.ReconsumeTimes,
		ReplayedBy: l.ReplayedBy, BodyBytes: len(l.Body), BodyPreview: deadletter.BodyPreview(l.Body, dlqBodyPreview),
	}
	v.Keys = nonNil(v.Keys)
	v.ReplayOf = l.Properties()[deadletter.PropReplayOf]
	if l.BornAt.Valid {
		v.BornAt = &l.BornAt.Time
	}
	if l.StoredAt.Valid {
		v.StoredAt = &l.StoredAt.Time
	}
	if l.DrainedAt.Valid {
		v.DrainedAt = &l.DrainedAt.Time
	}
	if l.ReplayedAt.Valid {
		v.ReplayedAt = &l.ReplayedAt.Time
	}
	return v
}

func dlqKeys(keys []string) string {
	switch len(keys) {
	case 0:
		return "-"
	case 1:
		return keys[0]
	}
	return fmt.Sprintf("%s (+%d)", keys[0], len(keys)-1)
}

type dlqReplayOptions struct {
	Group  string
	IDs    []string
	All    bool
	DryRun bool
	By     string
	// MsgIDs are the --id values, checked and normalised.
	MsgIDs []string
}

// dlqReplayReport is `events dlq replay --json`.
type dlqReplayReport struct {
	Group   string                    `json:"group"`
	DryRun  bool                      `json:"dry_run"`
	Counts  map[string]int            `json:"counts"`
	Results []deadletter.ReplayResult `json:"results"`
}

func newEventsDLQReplayCmd(app *App, runF func(*dlqReplayOptions) error) *cobra.Command {
	o := &dlqReplayOptions{}
	cmd := &cobra.Command{
		Use:   "replay [--group G] (--id MSGID ... | --all) [--dry-run]",
		Short: "Publish dead letters again to their original topic, each once",
		Long: `replay republishes dead letters of a consumer group (default couponsd's) to the
topic they were first sent to, with their tag, keys, body and properties, so the
group handles them again, and marks each replayed: a second replay skips it
(reported already_replayed). --id names dead letters (repeat it or separate with
commas; every one must be listed by "events dlq list", else nothing is done);
--all replays every one not replayed yet, oldest first. --dry-run shows what
would be replayed. A dead letter whose publish fails is left for a later replay
(exit 1). Handling a replayed login is idempotent: a member who already holds
the coupon is issued nothing.`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, o.validate, runF, runEventsDLQReplay),
	}
	f := cmd.Flags()
	f.StringVar(&o.Group, "group", "", "consumer group whose dead letters to replay (default couponsd's group)")
	f.StringSliceVar(&o.IDs, "id", nil, "message id of a dead letter (32 hex digits), repeatable")
	f.BoolVar(&o.All, "all", false, "replay every dead letter not replayed yet")
	f.BoolVar(&o.DryRun, "dry-run", false, "show what would be replayed, change nothing")
	f.StringVar(&o.By, "by", operatorName(), "operator name recorded with each replay")
	return cmd
}

func (o *dlqReplayOptions) validate() error {
	if o.All == (len(o.IDs) > 0) {
		return usageErrorf("give --id MSGID (one or more) or --all")
	}
	if len(o.IDs) > dlqMaxIDs {
		return usageErrorf("--id: at most %d ids at once (or --all)", dlqMaxIDs)
	}
	o.MsgIDs = make([]string, 0, len(o.IDs))
	for _, s := range o.IDs {
		id, err := deadletter.ParseMsgID(s)
		if err != nil {
			return usageErrorf("--id: %v", err)
		}
		o.MsgIDs = append(o.MsgIDs, id)
	}
	return checkDLQGroup(o.Group)
}

func runEventsDLQReplay(ctx context.Context, app *App, o *dlqReplayOptions) error {
	ids := o.MsgIDs
	group, db, err := dlqOpen(ctx, app, o.Group)
	if err != nil {
		return err
	}
	if len(ids) > 0 { // every id must exist before anything is sent
		if _, err := deadletter.Get(ctx, db, group, ids); err != nil {
			if errors.Is(err, deadletter.ErrNotFound) {
				return usageErrorf("--id: %v", err)
			}
			return err
		}
	}
	var sender deadletter.Sender = dryRunSender{}
	if !o.DryRun {
		p, err := mq.NewProducer(mq.ProducerConfig{
			Config: mq.Config{NameServer: app.Common.RocketMQNameServer, BrokerAddr: app.Common.RocketMQBroker, Logger: app.Logger},
			Group:  "mkt_mktctl_dlq_replay",
		})
		if err != nil {
			return fmt.Errorf("%w: RocketMQ at %s: %w", ErrUnavailable, app.Common.RocketMQNameServer, err)
		}
		defer func() { _ = p.Shutdown() }()
		sender = p
	}
	results, err := deadletter.Replay(ctx, db, sender, deadletter.ReplayOptions{
		Group: group, MsgIDs: ids, All: o.All, DryRun: o.DryRun, By: o.By,
	})
	if err != nil {
		return err
	}
	rep := dlqReplayReport{Group: group, DryRun: o.DryRun, Counts: map[string]int{}, Results: results}
	rep.Results = nonNil(rep.Results)
	for _, r := range results {
		rep.Counts[r.Outcome]++
	}
	if app.JSON {
		err = writeJSON(app.Out, rep)
	} else {
		err = writeDLQReplay(app.Out, rep)
	}
	if err != nil {
		return err
	}
	if failed := rep.Counts[deadletter.OutcomeFailed]; failed > 0 {
		return fmt.Errorf("%d dead letters could not be replayed (left for a later replay)", failed)
	}
	return nil
}

// writeDLQReplay prints `events dlq replay`: a table of the dead letters
// and what became of each, then the counts.
func writeDLQReplay(w io.Writer, rep dlqReplayReport) error {
	if len(rep.Results) > 0 {
		rows := [][]string{{"MSG ID", "TOPIC", "KEY", "OUTCOME", "ERROR"}}
		for _, r := range rep.Results {
			rows = append(rows, []string{r.MsgID, r.Topic, dlqKeys(splitKeys(r.Keys)), r.Outcome, r.Error})
		}
		if err := table(w, rows); err != nil {
			return err
		}
	}
	verb := "replayed"
	if rep.DryRun {
		verb = "would replay"
	}
	n := rep.Counts[deadletter.OutcomeReplayed] + rep.Counts[deadletter.OutcomeWouldReplay]
	fmt.Fprintf(w, "group %s: %s %d, already replayed %d, being replayed elsewhere %d, failed %d\n",
		rep.Group, verb, n, rep.Counts[deadletter.OutcomeAlreadyReplayed], rep.Counts[deadletter.OutcomeBusy], rep.Counts[deadletter.OutcomeFailed])
	return nil
}

func splitKeys(s string) []string {
	l := deadletter.Letter{Keys: s}
	return l.KeyList()
}

// dryRunSender is never called: a dry run publishes nothing.
type dryRunSender struct{}

func (dryRunSender) Send(context.Context, mq.Message) error {
	return errors.New("dry run: nothing is published")
}
