package campaign

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"mkt/pkg/strictjson"
)

// Topics and tags of the push pipeline. Every pushd joins the planner group
// on TopicEvents and the worker group on TopicShards.
const (
	// TopicEvents carries campaign lifecycle events (tag TagCreated).
	TopicEvents = "mkt_campaign_event"
	// TagCreated marks "a campaign was stored; plan it".
	TagCreated = "created"
	// TopicShards carries one ShardTask per shard (tag TagShard).
	TopicShards = "mkt_push_shard"
	// TagShard marks a shard task.
	TagShard = "shard"
	// GroupPlanner is the consumer group of the planners.
	GroupPlanner = "mkt_pushd_planner"
	// GroupWorker is the consumer group of the fan-out workers.
	GroupWorker = "mkt_pushd_worker"
	// GroupTx is the transactional producer group whose check-back answers
	// "was this campaign stored?"; mktctl and every pushd are members.
	GroupTx = "mkt_campaign_tx"
)

// Kind says which kind of campaign an id belongs to, that is which table
// holds it: a promotion, a push-mode coupon or a hot-goods run (the
// campaign_kind column). A promotion's Offer is another matter.
type Kind string

// Campaign kinds.
const (
	KindPromotion Kind = "promotion"
	KindCoupon    Kind = "coupon"
	KindHotGoods  Kind = "hot_goods"
)

// CreatedEvent says a campaign was stored; its key is the request id.
type CreatedEvent struct {
	Kind       Kind   `json:"kind"`
	RequestID  string `json:"request_id"`
	CampaignID uint64 `json:"campaign_id,omitempty"`
}

// TaskMode says what a shard task does.
type TaskMode string

// Task modes.
const (
	// ModeSend pushes to every audience member of the shard not yet sent.
	ModeSend TaskMode = "send"
	// ModeRetryFailed re-sends only to the shard's members whose delivery
	// failed.
	ModeRetryFailed TaskMode = "retry_failed"
)

// ShardTask is the message for one shard: an id range, never a list of ids.
type ShardTask struct {
	Kind       Kind     `json:"kind"`
	CampaignID uint64   `json:"campaign_id"`
	ShardNo    int      `json:"shard_no"`
	StartID    uint64   `json:"start_id"`
	EndID      uint64   `json:"end_id"`
	Mode       TaskMode `json:"mode"`
}

// Key is the message key: "<kind>:<campaign>:<shard>".
func (t ShardTask) Key() string {
	return string(t.Kind) + ":" + strconv.FormatUint(t.CampaignID, 10) + ":" + strconv.Itoa(t.ShardNo)
}

// Validate checks a decoded task.
func (t ShardTask) Validate() error {
	switch {
	case !slices.Contains(PipelineKinds(), t.Kind):
		return fmt.Errorf("%w: shard task kind %q", ErrInvalid, t.Kind)
	case t.CampaignID == 0:
		return fmt.Errorf("%w: shard task without campaign id", ErrInvalid)
	case t.ShardNo < 0:
		return fmt.Errorf("%w: shard task number %d", ErrInvalid, t.ShardNo)
	case t.EndID <= t.StartID:
		return fmt.Errorf("%w: shard task range [%d,%d) is empty", ErrInvalid, t.StartID, t.EndID)
	case t.Mode != ModeSend && t.Mode != ModeRetryFailed:
		return fmt.Errorf("%w: shard task mode %q", ErrInvalid, t.Mode)
	}
	return nil
}

// DecodeShardTask parses and validates a shard task body (unknown fields
// rejected).
func DecodeShardTask(b []byte) (ShardTask, error) {
	var t ShardTask
	if err := strictDecode(b, &t); err != nil {
		return t, fmt.Errorf("%w: shard task: %w", ErrInvalid, err)
	}
	return t, t.Validate()
}

// DecodeCreatedEvent parses and validates a created event body.
func DecodeCreatedEvent(b []byte) (CreatedEvent, error) {
	var e CreatedEvent
	if err := strictDecode(b, &e); err != nil {
		return e, fmt.Errorf("%w: created event: %w", ErrInvalid, err)
	}
	if !slices.Contains(PipelineKinds(), e.Kind) {
		return e, fmt.Errorf("%w: created event kind %q", ErrInvalid, e.Kind)
	}
	if e.RequestID == "" && e.CampaignID == 0 {
		return e, fmt.Errorf("%w: created event names no campaign", ErrInvalid)
	}
	return e, nil
}

func strictDecode(b []byte, v any) error {
	return strictjson.Decode(b, v, strictjson.Options{})
}

// Encode returns the JSON body of v.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // plain structs only
		panic(err)
	}
	return b
}
