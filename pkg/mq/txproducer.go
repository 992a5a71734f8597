package mq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TxState is the outcome of a local transaction, as told to the broker.
type TxState int

// Transaction outcomes.
const (
	// TxUnknown leaves the half message pending; the broker asks again later.
	TxUnknown TxState = iota
	// TxCommit makes the message visible to consumers.
	TxCommit
	// TxRollback discards the message.
	TxRollback
)

func (s TxState) String() string {
	switch s {
	case TxCommit:
		return "commit"
	case TxRollback:
		return "rollback"
	default:
		return "unknown"
	}
}

func (s TxState) primitive() primitive.LocalTransactionState {
	switch s {
	case TxCommit:
		return primitive.CommitMessageState
	case TxRollback:
		return primitive.RollbackMessageState
	default:
		return primitive.UnkonwnState
	}
}

// ErrTxUnknown is returned (or wrapped) by a local transaction whose
// outcome is not known yet (e.g. a commit timed out): the message stays
// pending and the broker's check-back decides.
var ErrTxUnknown = errors.New("mq: local transaction outcome unknown")

// TxCheckFunc answers the broker's check-back for a half message whose
// producer never said commit or rollback (it died, or the local transaction
// returned ErrTxUnknown): it looks the outcome up in the local store, e.g.
// "does the campaign named in m.Keys exist?". TxUnknown makes the broker ask
// again later (it gives up and discards the message after its check limit).
type TxCheckFunc func(ctx context.Context, m Message) TxState

// DefaultTxCheckTimeout bounds one check-back call.
const DefaultTxCheckTimeout = 10 * time.Second

// TxProducerConfig configures a TxProducer.
type TxProducerConfig struct {
	Config
	// Group is the producer group, required. The broker sends check-backs
	// to any live producer of the group, so every process that publishes a
	// kind of transactional message uses the same group and Check.
	Group string
	// Check answers check-backs. Required.
	Check TxCheckFunc
	// CheckTimeout bounds one Check call. Default DefaultTxCheckTimeout.
	CheckTimeout time.Duration
}

func (c TxProducerConfig) withDefaults() TxProducerConfig {
	c.Config = c.Config.withDefaults()
	c.CheckTimeout = cmp.Or(c.CheckTimeout, DefaultTxCheckTimeout)
	return c
}

func (c TxProducerConfig) validate() error {
	if err := c.validateWithGroup("producer group", c.Group); err != nil {
		return err
	}
	if c.Check == nil {
		return fmt.Errorf("%w: transactional producer needs a Check function", ErrInvalidConfig)
	}
	if c.CheckTimeout <= 0 {
		return fmt.Errorf("%w: check timeout %v must be positive", ErrInvalidConfig, c.CheckTimeout)
	}
	return nil
}

// TxProducer publishes messages bound to a local transaction (RocketMQ
// transactional messages): "store the campaign and publish its event" either
// both happen or neither. Safe for concurrent use.
type TxProducer struct {
	cfg    TxProducerConfig
	log    *slog.Logger
	client rocketmq.TransactionProducer
	lis    *txListener

	mu     sync.RWMutex
	closed bool
}

// NewTxProducer creates and starts a transactional producer.
func NewTxProducer(cfg TxProducerConfig) (*TxProducer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.producerOptions(cfg.Group, "txproducer")
	if err != nil {
		return nil, err
	}
	baseCtx, cancel := context.WithCancel(context.Background())
	lis := &txListener{cfg: cfg, log: cfg.Logger, baseCtx: baseCtx, cancel: cancel}
	client, err := rocketmq.NewTransactionProducer(lis, opts...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mq: create transactional producer: %w", err)
	}
	if err := client.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("mq: start transactional producer: %w", err)
	}
	return &TxProducer{cfg: cfg, log: cfg.Logger, client: client, lis: lis}, nil
}

// SendInTx sends msg as a half message (stored, invisible to consumers),
// then runs local. If local returns nil the message is committed and
// SendInTx returns nil; if it returns an error the message is rolled back
// and SendInTx returns that error wrapped; if the error wraps ErrTxUnknown
// the message stays pending until the broker's check-back (TxProducerConfig.Check)
// settles it. If the half message cannot be sent, local is not run.
//
// The commit or rollback is a one-way request: if it is lost, the check-back
// settles the message, so Check must agree with what local did. A panic in
// local propagates and leaves the message to the check-back.
func (p *TxProducer) SendInTx(ctx context.Context, msg Message, local func(ctx context.Context) error) error {
	if local == nil {
		return fmt.Errorf("%w: nil local transaction", ErrInvalidMessage)
	}
	if err := msg.validate(); err != nil {
		return err
	}
	pm := msg.toPrimitive()
	if size, propsLen := encodedSize(pm); size > maxBrokerBodyBytes || propsLen > maxPropertiesLen {
		return fmt.Errorf("%w: transactional message encodes to %d bytes", ErrMessageTooLarge, size)
	}

	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}

	call := &txCall{ctx: ctx, local: local}
	p.lis.pending.Store(pm, call)
	defer p.lis.pending.Delete(pm)

	res, err := p.client.SendMessageInTransaction(ctx, pm)
	if err != nil {
		return fmt.Errorf("mq: send half message to topic %q: %w", msg.Topic, err)
	}
	if !call.ran {
		// The broker did not store the half message (status not OK).
		return fmt.Errorf("%w: half message to topic %q: status %d", ErrSendNotOK, msg.Topic, res.Status)
	}
	if call.err != nil {
		return fmt.Errorf("mq: local transaction (message %s %s): %w", res.MsgID, call.state, call.err)
	}
	return nil
}

// Shutdown stops the producer after SendInTx calls in progress. Pending
// half messages are settled by check-backs to other producers of the group,
// or to this one once restarted.
func (p *TxProducer) Shutdown() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.lis.cancel()
	if err := p.client.Shutdown(); err != nil {
		return fmt.Errorf("mq: shut down transactional producer: %w", err)
	}
	return nil
}

// txCall carries one SendInTx's local transaction to the listener, which the
// client calls synchronously inside SendMessageInTransaction with the same
// *primitive.Message.
type txCall struct {
	ctx   context.Context
	local func(context.Context) error
	ran   bool
	err   error
	state TxState
}

type txListener struct {
	cfg     TxProducerConfig
	log     *slog.Logger
	pending sync.Map // *primitive.Message -> *txCall
	baseCtx context.Context
	cancel  context.CancelFunc
}

var _ primitive.TransactionListener = (*txListener)(nil)

func (l *txListener) ExecuteLocalTransaction(pm *primitive.Message) primitive.LocalTransactionState {
	v, ok := l.pending.Load(pm)
	if !ok {
		// Not ours: never commit what we did not run.
		l.log.Error("mq: local transaction for unknown message, leaving it to the check-back",
			slog.String("topic", pm.Topic))
		return primitive.UnkonwnState
	}
	call := v.(*txCall)
	call.ran = true
	call.err = call.local(call.ctx)
	switch {
	case call.err == nil:
		call.state = TxCommit
	case errors.Is(call.err, ErrTxUnknown):
		call.state = TxUnknown
	default:
		call.state = TxRollback
	}
	return call.state.primitive()
}

func (l *txListener) CheckLocalTransaction(me *primitive.MessageExt) primitive.LocalTransactionState {
	ctx, cancel := context.WithTimeout(l.baseCtx, l.cfg.CheckTimeout)
	defer cancel()
	state := l.cfg.Check(ctx, fromPrimitive(&me.Message))
	l.log.Info("mq: answered transaction check-back",
		slog.String("group", l.cfg.Group), slog.String("topic", me.Topic),
		slog.String("msg_id", me.MsgId), slog.String("state", state.String()))
	return state.primitive()
}
