// Package inbox owns the members' in-site inbox (the member_inbox table):
// the inbox delivery channel, a provider.Provider that writes a campaign's
// message into its recipients' inboxes in bulk, and reading a member's inbox
// back. The table's unique key (campaign_kind, campaign_id, member_id) makes
// every write idempotent: a redelivered shard or a retry never shows a
// member the same campaign twice.
package inbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// Defaults and limits.
const (
	// DefaultMaxBatch is the most recipients one Send writes in one statement.
	DefaultMaxBatch = 1000
	// maxBatch bounds MaxBatch (5 placeholders per row, 65,535 per statement).
	maxBatch = 10_000
	// maxTitle is the title column's width.
	maxTitle = 255
)

// ErrInvalidConfig reports a Config that cannot work.
var ErrInvalidConfig = errors.New("inbox: invalid config")

// Config configures a Provider.
type Config struct {
	// DB is where inbox rows are written (required).
	DB store.Handler
	// Name identifies the provider in logs (default "inbox").
	Name string
	// Kind is the campaign kind Send assumes; SendCampaign names it
	// explicitly (default campaign.KindPromotion).
	Kind campaign.Kind
	// MaxBatch is the most recipients per statement (default DefaultMaxBatch).
	MaxBatch int
	// RetryFor is how long a statement that fails is retried (backing off
	// from 100 ms to 5 s, retryBackoff, while the context lives) before its recipients
	// fail: the inbox is written to the database, so a database outage
	// would otherwise record the inbox failed for every page in flight.
	// Retrying is safe: the insert is idempotent. Zero: one attempt.
	RetryFor time.Duration
}

// Provider delivers the inbox channel by inserting member_inbox rows. It is
// safe for concurrent use.
type Provider struct {
	cfg Config
}

var _ provider.Provider = (*Provider)(nil)

// New validates cfg, fills its defaults and returns the provider.
func New(cfg Config) (*Provider, error) {
	cfg.Name = cmp.Or(cfg.Name, "inbox")
	cfg.Kind = cmp.Or(cfg.Kind, campaign.KindPromotion)
	cfg.MaxBatch = cmp.Or(cfg.MaxBatch, DefaultMaxBatch)
	switch {
	case cfg.DB == nil:
		return nil, fmt.Errorf("%w: DB is required", ErrInvalidConfig)
	case cfg.RetryFor < 0:
		return nil, fmt.Errorf("%w: negative RetryFor", ErrInvalidConfig)
	case cfg.MaxBatch < 1 || cfg.MaxBatch > maxBatch:
		return nil, fmt.Errorf("%w: MaxBatch %d, want 1..%d", ErrInvalidConfig, cfg.MaxBatch, maxBatch)
	case cfg.Kind != campaign.KindPromotion && cfg.Kind != campaign.KindCoupon && cfg.Kind != campaign.KindHotGoods:
		return nil, fmt.Errorf("%w: campaign kind %q", ErrInvalidConfig, cfg.Kind)
	}
	return &Provider{cfg: cfg}, nil
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return p.cfg.Name }

// MaxBatch implements provider.Provider: recipients per statement.
func (p *Provider) MaxBatch() int { return p.cfg.MaxBatch }

// Send implements provider.Provider for campaigns of the configured Kind.
func (p *Provider) Send(ctx context.Context, msg provider.Message, to []provider.Recipient) []provider.Result {
	return p.SendCampaign(ctx, p.cfg.Kind, msg, to)
}

// SendCampaign writes msg into the inbox of every recipient, for a campaign
// of the given kind, MaxBatch rows per INSERT IGNORE. A member who already
// has the campaign's message counts as delivered (the unique key holds the
// first copy). A database failure is retried for RetryFor, then fails the
// recipients of that statement with provider.ErrUnavailable, retryable.
func (p *Provider) SendCampaign(ctx context.Context, kind campaign.Kind, msg provider.Message, to []provider.Recipient) []provider.Result {
	out := make([]provider.Result, len(to))
	for i, r := range to {
		out[i].MemberID = r.MemberID
	}
	if msg.Channel != provider.ChannelInbox || msg.Body == "" || msg.CampaignID == 0 {
		err := fmt.Errorf("%w: inbox needs an inbox-channel message with a campaign and a body", provider.ErrInvalidMessage)
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	title := textlimit.Runes(msg.Title, maxTitle)
	for lo := 0; lo < len(to); lo += p.cfg.MaxBatch {
		chunk := to[lo:min(lo+p.cfg.MaxBatch, len(to))]
		err := p.insertRetrying(ctx, kind, msg.CampaignID, title, msg.Body, chunk)
		for i := range chunk {
			r := &out[lo+i]
			switch {
			case r.MemberID == 0:
				r.Err = fmt.Errorf("%w: member id 0", provider.ErrInvalidMessage)
			case err != nil:
				r.Err, r.Retryable, r.Attempts = err, true, 1
			default:
				r.OK, r.Attempts = true, 1
			}
		}
	}
	return out
}

// insertRetrying inserts, retrying a failure for RetryFor while ctx lives.
func (p *Provider) insertRetrying(ctx context.Context, kind campaign.Kind, campaignID uint64, title, body string, to []provider.Recipient) error {
	give := time.Now().Add(p.cfg.RetryFor)
	for attempt := 1; ; attempt++ {
		err := insert(ctx, p.cfg.DB, kind, campaignID, title, body, to)
		wait := retryBackoff.Delay(attempt)
		if err == nil || ctx.Err() != nil || time.Now().Add(wait).After(give) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// retryBackoff paces insertRetrying: from 100 ms to 5 s.
var retryBackoff = daemon.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}

func insert(ctx context.Context, h store.Handler, kind campaign.Kind, campaignID uint64, title, body string, to []provider.Recipient) error {
	var b strings.Builder
	b.Grow(96 + len(to)*12)
	b.WriteString(`INSERT IGNORE INTO member_inbox (member_id, campaign_kind, campaign_id, title, body) VALUES `)
	args := make([]any, 0, len(to)*5)
	n := 0
	for _, r := range to {
		if r.MemberID == 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?)")
		args = append(args, r.MemberID, kind, campaignID, title, body)
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := h.ExecContext(ctx, b.String(), args...); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("inbox: write %d messages of %s %d: %w", n, kind, campaignID, ctx.Err())
		}
		return fmt.Errorf("%w: inbox: write %d messages of %s %d: %w", provider.ErrUnavailable, n, kind, campaignID, store.MapError(err))
	}
	return nil
}

// Message is one message in a member's inbox.
type Message struct {
	ID           uint64        `db:"id" json:"id"`
	MemberID     uint64        `db:"member_id" json:"member_id"`
	CampaignKind campaign.Kind `db:"campaign_kind" json:"campaign_kind"`
	CampaignID   uint64        `db:"campaign_id" json:"campaign_id"`
	Title        string        `db:"title" json:"title,omitempty"`
	Body         string        `db:"body" json:"body"`
	ReadAt       *time.Time    `db:"read_at" json:"read_at,omitempty"`
	CreatedAt    time.Time     `db:"created_at" json:"created_at"`
}

// List returns a member's newest inbox messages, at most limit (default 50,
// at most 1000).
func List(ctx context.Context, h store.Handler, memberID uint64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	var out []Message
	err := h.SelectContext(ctx, &out, `SELECT id, member_id, campaign_kind, campaign_id, title, body, read_at, created_at
		FROM member_inbox WHERE member_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, memberID, limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: list member %d: %w", memberID, store.MapError(err))
	}
	return out, nil
}

// Count returns how many inboxes hold a campaign's message.
func Count(ctx context.Context, h store.Handler, kind campaign.Kind, campaignID uint64) (int64, error) {
	var n int64
	err := h.GetContext(ctx, &n, `SELECT COUNT(*) FROM member_inbox WHERE campaign_kind = ? AND campaign_id = ?`, kind, campaignID)
	if err != nil {
		return 0, fmt.Errorf("inbox: count %s %d: %w", kind, campaignID, store.MapError(err))
	}
	return n, nil
}

// MarkRead marks one of a member's messages read and reports whether it was
// unread.
func MarkRead(ctx context.Context, h store.Handler, memberID, messageID uint64) (bool, error) {
	res, err := h.ExecContext(ctx, `UPDATE member_inbox SET read_at = CURRENT_TIMESTAMP(3)
		WHERE id = ? AND member_id = ? AND read_at IS NULL`, messageID, memberID)
	if err != nil {
		return false, fmt.Errorf("inbox: mark message %d read: %w", messageID, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
