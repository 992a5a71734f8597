-- Hot-goods days. The recommender's rows for a day (one per segment and goods
-- kind) are imported into hot_goods_crontab with their ranked goods, message
-- template, channels and a priority. `mktctl hotgoods run` launches the
-- date's pending rows (all, or a shard of them by CRC32(id) % total) as one
-- hot_goods_run: a campaign of kind hot_goods that the push pipeline plans
-- and fans out like a promotion. Its shards cover the member id range once;
-- each member is sent the message of the highest-priority row of the day
-- whose segment they fall in (ties: the lower row id), by the run holding
-- that row, so a member in several segments gets one hot-goods push a day.

-- +goose Up
CREATE TABLE hot_goods_run (
    id               BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    request_id       VARCHAR(64)       NULL COMMENT 'idempotency key of the launch',
    name             VARCHAR(128)      NOT NULL,
    run_date         DATE              NOT NULL COMMENT 'the day whose rows it pushes',
    shard_index      INT UNSIGNED      NOT NULL DEFAULT 0 COMMENT 'which rows: CRC32(id) % shard_total = shard_index',
    shard_total      INT UNSIGNED      NOT NULL DEFAULT 1,
    channels         SET('sms','email','app','inbox') NOT NULL COMMENT 'union of its rows'' channels',
    audience         JSON              NOT NULL COMMENT 'always {}: the rows'' segments are resolved per member',
    status           ENUM('created','planning','running','paused','cancelled','completed','failed') NOT NULL DEFAULT 'created',
    status_reason    VARCHAR(255)      NOT NULL DEFAULT '',
    shard_size       INT UNSIGNED      NOT NULL DEFAULT 1000,
    planned_members  BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    planned_shards   INT UNSIGNED      NOT NULL DEFAULT 0,
    created_by       VARCHAR(64)       NOT NULL DEFAULT '',
    planned_at       DATETIME(3)       NULL,
    finished_at      DATETIME(3)       NULL,
    created_at       DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_hot_goods_run_request (request_id),
    KEY idx_hot_goods_run_status (status),
    KEY idx_hot_goods_run_date (run_date),
    CONSTRAINT chk_hot_goods_run_shard CHECK (shard_index < shard_total)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='hot-goods launches: campaigns of kind hot_goods';

ALTER TABLE hot_goods_crontab
    ADD COLUMN priority     SMALLINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'a member in several segments gets the highest' AFTER goods_kind,
    ADD COLUMN run_id       BIGINT UNSIGNED   NULL COMMENT 'hot_goods_run that launched it, NULL = pending' AFTER status_reason,
    ADD COLUMN content_hash CHAR(64)          NOT NULL DEFAULT '' COMMENT 'SHA-256 of the imported row: re-imports compare it' AFTER run_id,
    ADD KEY idx_hot_goods_crontab_run (run_id);

-- +goose Down
ALTER TABLE hot_goods_crontab
    DROP KEY idx_hot_goods_crontab_run,
    DROP COLUMN content_hash,
    DROP COLUMN run_id,
    DROP COLUMN priority;
DROP TABLE IF EXISTS hot_goods_run;
