-- Push fan-out: the shard table (durable truth of progress), per-member
-- delivery records, and the two scheduled task tables scanned by cron/XXL-Job
-- style runners. campaign_kind + campaign_id name a campaign across tables:
-- promotion = sales_promotion.id, coupon = sales_promotion_coupon.id,
-- hot_goods = hot_goods_crontab.id (each table has its own id sequence).

-- +goose Up
-- A shard covers member ids in [start_id, end_id): start inclusive, end
-- exclusive. cursor_id is the last member id fully processed (0 = none yet), so
-- a worker resumes with
--   member_id >= start_id AND member_id > cursor_id AND member_id < end_id.
-- owner and lease_until say which worker holds the shard and until when; an
-- expired lease on a running shard may be taken over.
CREATE TABLE campaign_shard (
    campaign_kind     ENUM('promotion','coupon','hot_goods') NOT NULL,
    campaign_id       BIGINT UNSIGNED   NOT NULL,
    shard_no          INT UNSIGNED      NOT NULL COMMENT '0-based',
    start_id          BIGINT UNSIGNED   NOT NULL COMMENT 'first member id, inclusive',
    end_id            BIGINT UNSIGNED   NOT NULL COMMENT 'member id bound, exclusive',
    expected_members  INT UNSIGNED      NOT NULL DEFAULT 0 COMMENT 'audience members in the range at planning time',
    status            ENUM('pending','running','paused','done','cancelled','failed') NOT NULL DEFAULT 'pending',
    cursor_id         BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'last member id processed, 0 = none',
    sent              INT UNSIGNED      NOT NULL DEFAULT 0,
    failed            INT UNSIGNED      NOT NULL DEFAULT 0,
    attempts          SMALLINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'times a worker started this shard',
    owner             VARCHAR(128)      NOT NULL DEFAULT '' COMMENT 'worker holding the lease, empty = none',
    lease_until       DATETIME(3)       NULL,
    last_error        VARCHAR(1000)     NOT NULL DEFAULT '',
    started_at        DATETIME(3)       NULL,
    finished_at       DATETIME(3)       NULL,
    created_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (campaign_kind, campaign_id, shard_no),
    KEY idx_campaign_shard_status (campaign_kind, campaign_id, status),
    KEY idx_campaign_shard_lease (status, lease_until),
    CONSTRAINT chk_campaign_shard_range CHECK (end_id > start_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='campaign shards: id range, status, checkpoint and counters, the durable truth of progress';

CREATE TABLE push_message (
    id                   BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    campaign_kind        ENUM('promotion','coupon','hot_goods') NOT NULL,
    campaign_id          BIGINT UNSIGNED   NOT NULL,
    shard_no             INT UNSIGNED      NOT NULL,
    member_id            BIGINT UNSIGNED   NOT NULL,
    channel              ENUM('sms','email','app','inbox') NOT NULL,
    status               ENUM('sent','failed') NOT NULL,
    reason               VARCHAR(255)      NOT NULL DEFAULT '' COMMENT 'failure reason, empty when sent',
    attempts             SMALLINT UNSIGNED NOT NULL DEFAULT 1,
    provider_message_id  VARCHAR(128)      NOT NULL DEFAULT '',
    sent_at              DATETIME(3)       NULL COMMENT 'provider accepted the message',
    created_at           DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at           DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_push_message (campaign_kind, campaign_id, member_id, channel),
    KEY idx_push_message_status (campaign_kind, campaign_id, status, member_id),
    KEY idx_push_message_member (member_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='one delivery record per campaign, member and channel';

-- One row per segment, goods kind and day. runner_index/total style sharding
-- (XXL-Job) picks rows by id modulo the runner count.
CREATE TABLE hot_goods_crontab (
    id                BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    segment_name      VARCHAR(64)       NOT NULL COMMENT 'portrait segment the goods are for',
    segment           JSON              NOT NULL COMMENT 'segment filter over membership_filter',
    goods_kind        ENUM('best_selling','most_viewed','best_rated') NOT NULL,
    goods             JSON              NULL COMMENT 'snapshot of the goods pushed, filled when the run starts',
    message_template  TEXT              NOT NULL,
    channels          SET('sms','email','app','inbox') NOT NULL,
    run_date          DATE              NOT NULL COMMENT 'UTC day the push is for',
    status            ENUM('pending','planning','running','paused','cancelled','completed','failed') NOT NULL DEFAULT 'pending',
    status_reason     VARCHAR(255)      NOT NULL DEFAULT '',
    shard_size        INT UNSIGNED      NOT NULL DEFAULT 1000,
    planned_members   BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    planned_shards    INT UNSIGNED      NOT NULL DEFAULT 0,
    done_shards       INT UNSIGNED      NOT NULL DEFAULT 0 COMMENT 'roll-up of campaign_shard, which stays the truth',
    sent_total        BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'roll-up of campaign_shard.sent',
    failed_total      BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'roll-up of campaign_shard.failed',
    started_at        DATETIME(3)       NULL,
    finished_at       DATETIME(3)       NULL,
    created_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_hot_goods_crontab_run (run_date, segment_name, goods_kind),
    KEY idx_hot_goods_crontab_status (status, run_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='daily hot-goods push tasks, one per segment and goods kind';

CREATE TABLE push_message_crontab (
    id             BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    campaign_kind  ENUM('promotion','coupon','hot_goods') NOT NULL,
    campaign_id    BIGINT UNSIGNED   NOT NULL,
    run_at         DATETIME(3)       NOT NULL COMMENT 'when the push should start',
    status         ENUM('pending','running','done','cancelled','failed') NOT NULL DEFAULT 'pending' COMMENT 'running = claimed by a runner, done = campaign launched',
    attempts       SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    owner          VARCHAR(128)      NOT NULL DEFAULT '' COMMENT 'runner that claimed the task',
    lease_until    DATETIME(3)       NULL,
    last_error     VARCHAR(1000)     NOT NULL DEFAULT '',
    triggered_at   DATETIME(3)       NULL,
    created_by     VARCHAR(64)       NOT NULL DEFAULT '',
    created_at     DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at     DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_push_message_crontab (campaign_kind, campaign_id, run_at),
    KEY idx_push_message_crontab_due (status, run_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='scheduled pushes: launch a stored campaign at run_at';

-- +goose Down
DROP TABLE IF EXISTS push_message_crontab;
DROP TABLE IF EXISTS hot_goods_crontab;
DROP TABLE IF EXISTS push_message;
DROP TABLE IF EXISTS campaign_shard;
