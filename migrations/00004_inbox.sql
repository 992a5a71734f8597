-- In-site inbox: the messages a member reads inside the shop, written by the
-- push worker's inbox channel. One row per campaign and member: the unique
-- key makes a redelivered shard (or a retry) write nothing twice, so the
-- inbox channel delivers exactly once. campaign_kind + campaign_id name the
-- campaign as in push_message.

-- +goose Up
CREATE TABLE member_inbox (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    member_id      BIGINT UNSIGNED NOT NULL COMMENT 'membership_account.id',
    campaign_kind  ENUM('promotion','coupon','hot_goods') NOT NULL,
    campaign_id    BIGINT UNSIGNED NOT NULL,
    title          VARCHAR(255)    NOT NULL DEFAULT '' COMMENT 'heading shown in the inbox list',
    body           TEXT            NOT NULL COMMENT 'rendered message text',
    read_at        DATETIME(3)     NULL COMMENT 'NULL = unread',
    created_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_member_inbox_campaign (campaign_kind, campaign_id, member_id),
    KEY idx_member_inbox_member (member_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='in-site inbox messages, one per campaign and member';

-- +goose Down
DROP TABLE IF EXISTS member_inbox;
