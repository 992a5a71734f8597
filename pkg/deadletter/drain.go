package deadletter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/daemon"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// Drain defaults.
const (
	DefaultDrainConcurrency = 4
	// DrainGroupSuffix names a drain's consumer group after the group
	// whose dead letters it reads.
	DrainGroupSuffix = "_dlq"
	// drainConsumeTimeout keeps the client from giving a blocked message
	// back (see DrainConfig): longer than the broker keeps a message.
	drainConsumeTimeout = 7 * 24 * time.Hour
	maxStoreBackoff     = 30 * time.Second
)

// DrainConfig configures a Drain.
type DrainConfig struct {
	// MQ reaches the broker; DB is where dead letters are stored. Required.
	MQ mq.Config
	DB *store.DB
	// Group is the consumer group whose dead letters are drained. Required.
	Group string
	// DrainGroup is the drain's own consumer group; default Group + "_dlq".
	DrainGroup string
	// Instance names the drain's client; default generated.
	Instance string
	// DefaultTopic is recorded as the original topic of a dead letter that
	// does not say (the group's topic).
	DefaultTopic string
	// Classify, if set, says why a body was refused (an invalid message),
	// or "" when it is not known from the body alone.
	Classify func(body []byte) string
	// Concurrency is how many dead letters are stored at once.
	Concurrency int
	// RefreshInterval is how often the pending/replayed gauges are read
	// from MySQL; default 30 s.
	RefreshInterval time.Duration
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
	Now             func() time.Time
}

// Drain is a daemon component storing a consumer group's dead letters in
// MySQL. It consumes DeadLetterTopic(Group) with a consumer group of its
// own (from the oldest message retained, so dead letters from before its
// first start are drained too) and stores each one (Record). While MySQL is
// down a handler keeps retrying, holding its message: it is never handed
// back to the broker, whose redelivery of a dead letter cannot be consumed
// (rocketmq-client-go restores a redelivered copy's topic to the original,
// which the drain does not subscribe to). At shutdown a message not stored
// yet stays in the dead-letter queue, unacknowledged, for the next start.
type Drain struct {
	daemon.StartStop

	cfg      DrainConfig
	log      *slog.Logger
	consumer *mq.Consumer
	m        drainMetrics
}

type drainMetrics struct {
	drained     prometheus.Counter
	storeErrors prometheus.Counter
	letters     *prometheus.GaugeVec
}

// NewDrain builds a Drain; nothing runs before Start.
func NewDrain(cfg DrainConfig) (*Drain, error) {
	if cfg.DB == nil || cfg.Group == "" {
		return nil, errors.New("deadletter: a drain needs DB and Group")
	}
	cfg.DrainGroup = cmp.Or(cfg.DrainGroup, cfg.Group+DrainGroupSuffix)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultDrainConcurrency)
	cfg.RefreshInterval = cmp.Or(cfg.RefreshInterval, 30*time.Second)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Drain{cfg: cfg, log: cfg.Logger.With(slog.String("group", cfg.Group), slog.String("drain_group", cfg.DrainGroup))}
	labels := prometheus.Labels{"group": cfg.Group}
	d.m = drainMetrics{
		drained: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_mq_dead_letters_drained_total", ConstLabels: labels,
			Help: "Dead letters of the group stored in MySQL (mq_dead_letter) by this process."}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_mq_dead_letter_store_errors_total", ConstLabels: labels,
			Help: "Failed attempts to store a dead letter (retried until MySQL answers)."}),
		letters: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mkt_mq_dead_letters", ConstLabels: labels,
			Help: "Dead letters of the group in MySQL by state (pending = not replayed), read every refresh interval."}, []string{"state"}),
	}
	if err := daemon.RegisterMetrics(cfg.Registerer, d.m.drained, d.m.storeErrors, d.m.letters); err != nil {
		return nil, fmt.Errorf("deadletter: register metrics: %w", err)
	}
	var err error
	d.consumer, err = mq.NewConsumer(mq.ConsumerConfig{
		Config:           cfg.MQ,
		Group:            cfg.DrainGroup,
		Topic:            mq.DeadLetterTopic(cfg.Group),
		Instance:         cfg.Instance,
		Concurrency:      cfg.Concurrency,
		ConsumeTimeout:   drainConsumeTimeout,
		CancelOnShutdown: true,
		Handler:          d.handle,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Name identifies the drain in a daemon's logs.
func (d *Drain) Name() string { return "dead-letter drain of " + d.cfg.Group }

// Start creates the dead-letter topic if the broker has not yet (one
// queue, as the broker makes it), registers the drain and starts consuming.
// The lifecycle is daemon.StartStop's.
func (d *Drain) Start(ctx context.Context) error {
	return d.StartWith(ctx, func(life *daemon.Lifetime) error {
		if err := mq.EnsureTopics(ctx, d.cfg.MQ, 1, mq.DeadLetterTopic(d.cfg.Group)); err != nil {
			return fmt.Errorf("deadletter: create the dead-letter topic of group %s: %w", d.cfg.Group, err)
		}
		if err := d.consumer.Start(ctx); err != nil {
			return err
		}
		registered := false // only this round's goroutine reads and writes it
		life.Every(registerRetry, true, func(ctx context.Context) {
			if !registered {
				registered = d.register(ctx)
			}
		})
		life.Every(d.cfg.RefreshInterval, true, d.refresh)
		return nil
	})
}

// registerRetry is how often registering the drain is tried until it
// succeeds (MySQL may be down when the daemon starts).
const registerRetry = 5 * time.Second

// register records the drain in MySQL, for `mktctl events dlq`; false when
// it could not (logged), to be tried again.
func (d *Drain) register(ctx context.Context) bool {
	err := RegisterDrain(ctx, d.cfg.DB, d.cfg.Group, mq.DeadLetterTopic(d.cfg.Group), d.cfg.DrainGroup, d.cfg.Now())
	if err != nil && ctx.Err() == nil {
		d.log.Warn("deadletter: could not register the drain; retrying", "error", err.Error())
	}
	return err == nil
}

// refresh reads the pending and replayed counts into the gauges.
func (d *Drain) refresh(ctx context.Context) {
	if c, err := Count(ctx, d.cfg.DB, d.cfg.Group); err == nil {
		d.m.letters.WithLabelValues("pending").Set(float64(c.Pending))
		d.m.letters.WithLabelValues("replayed").Set(float64(c.Replayed))
	}
}

// Stop stops consuming (a dead letter being stored stays in the queue) and
// the background loop. It shuts the consumer down even if the drain was
// never started.
func (d *Drain) Stop(ctx context.Context) error {
	err := d.consumer.Shutdown(ctx)
	return errors.Join(err, d.StartStop.Stop(ctx))
}

// letterOf is the row of a dead letter delivered to the drain.
func (d *Drain) letterOf(dl *mq.Delivery) Letter {
	l := Letter{
		Group:          d.cfg.Group,
		MsgID:          dl.MsgID,
		Topic:          cmp.Or(dl.OriginTopic, d.cfg.DefaultTopic),
		Tag:            dl.Tag,
		Keys:           strings.Join(dl.Keys, " "),
		Body:           dl.Body,
		ReconsumeTimes: dl.ReconsumeTimes,
	}
	if strings.HasPrefix(l.Topic, "%") { // never replay into a retry or dead-letter topic
		l.Topic = d.cfg.DefaultTopic
	}
	if len(dl.Properties) > 0 {
		if b, err := json.Marshal(dl.Properties); err == nil {
			l.PropertiesJSON.String, l.PropertiesJSON.Valid = string(b), true
		}
	}
	if !dl.BornTime.IsZero() && dl.BornTime.UnixMilli() > 0 {
		l.BornAt.Time, l.BornAt.Valid = dl.BornTime.UTC(), true
	}
	if !dl.StoreTime.IsZero() && dl.StoreTime.UnixMilli() > 0 {
		l.StoredAt.Time, l.StoredAt.Valid = dl.StoreTime.UTC(), true
	}
	if d.cfg.Classify != nil {
		l.Reason = d.cfg.Classify(dl.Body)
	}
	if l.Reason == "" {
		// The consumer notes its last error (NoteReason) when it can; this
		// stands in when it could not (MySQL was what failed).
		l.Reason = fmt.Sprintf("failed %d deliveries; the errors are in the consumer's log under msg_id %s", l.ReconsumeTimes+1, l.MsgID)
	}
	return l
}

// handle stores one dead letter, retrying until MySQL takes it or the
// drain stops.
func (d *Drain) handle(ctx context.Context, dl *mq.Delivery) error {
	l := d.letterOf(dl)
	backoff := time.Second
	var lastLog time.Time
	for {
		fresh, err := Record(ctx, d.cfg.DB, l, d.cfg.Now())
		if err == nil {
			if fresh {
				d.m.drained.Inc()
				d.log.Info("deadletter: dead letter stored", "msg_id", l.MsgID, "topic", l.Topic, "reconsume_times", l.ReconsumeTimes)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.m.storeErrors.Inc()
		if time.Since(lastLog) > time.Minute {
			d.log.Warn("deadletter: cannot store a dead letter yet; retrying", "msg_id", l.MsgID, "error", err.Error())
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxStoreBackoff)
	}
}
