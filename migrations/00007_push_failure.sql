-- The fan-out writes a push_message row per delivery, tens of thousands a
-- second, and every secondary index of push_message is another B-tree to
-- maintain per row. The only one left, idx_push_message_status, served the
-- failure listing and retry-failed, which read the few failed rows of a
-- campaign. Those rows now also live in push_failure, written in the same
-- transaction as push_message (campaign.RecordDeliveries) and only when a
-- page has a failure or a failed row is later sent, so healthy pages write
-- one B-tree per delivery and failure reads stay proportional to failures.

-- +goose Up
CREATE TABLE push_failure (
    campaign_kind  ENUM('promotion','coupon','hot_goods') NOT NULL,
    campaign_id    BIGINT UNSIGNED   NOT NULL,
    member_id      BIGINT UNSIGNED   NOT NULL,
    channel        ENUM('sms','email','app','inbox') NOT NULL,
    shard_no       INT UNSIGNED      NOT NULL,
    reason         VARCHAR(255)      NOT NULL DEFAULT '',
    attempts       SMALLINT UNSIGNED NOT NULL DEFAULT 1,
    updated_at     DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (campaign_kind, campaign_id, member_id, channel)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='the push_message rows with status failed, kept in step with them';

INSERT INTO push_failure (campaign_kind, campaign_id, member_id, channel, shard_no, reason, attempts, updated_at)
SELECT campaign_kind, campaign_id, member_id, channel, shard_no, reason, attempts, updated_at
FROM push_message WHERE status = 'failed';

ALTER TABLE push_message DROP INDEX idx_push_message_status;

-- +goose Down
ALTER TABLE push_message ADD KEY idx_push_message_status (campaign_kind, campaign_id, status, member_id);
DROP TABLE IF EXISTS push_failure;
