-- Recurring schedules, fired by pushd. A schedule is a cron expression read in
-- an IANA time zone and an action: the day's hot-goods run (for the firing's
-- local date) or a copy of a template promotion. Every pushd polls for due
-- schedules; a firing is claimed by inserting its schedule_firing row, whose
-- UNIQUE (schedule_id, fire_at) is the last word: however many pushd race,
-- one inserts it and fires. The campaign a firing creates carries the request
-- id schedule-<id>-<fire time>, so a firing retried after its pushd died
-- finds the campaign instead of creating a second one.

-- +goose Up
CREATE TABLE schedule (
    id                   BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    name                 VARCHAR(128)      NOT NULL,
    cron_expr            VARCHAR(255)      NOT NULL COMMENT 'five-field cron expression or @daily-style descriptor',
    time_zone            VARCHAR(64)       NOT NULL COMMENT 'IANA zone the expression is read in',
    action               ENUM('hotgoods','campaign') NOT NULL COMMENT 'hotgoods = the day''s hot-goods run; campaign = a copy of template_campaign_id',
    template_campaign_id BIGINT UNSIGNED   NULL COMMENT 'sales_promotion copied by each firing (action campaign)',
    max_lateness_ms      BIGINT UNSIGNED   NOT NULL COMMENT 'a firing later than this is recorded skipped, not fired',
    status               ENUM('active','paused','deleted') NOT NULL DEFAULT 'active',
    next_fire_at         DATETIME(3)       NULL COMMENT 'UTC: the next firing not yet handled; NULL = none (paused, deleted, never fires again)',
    created_by           VARCHAR(64)       NOT NULL DEFAULT '',
    created_at           DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at           DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_schedule_due (status, next_fire_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='recurring schedules fired by pushd';

CREATE TABLE schedule_firing (
    id             BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    schedule_id    BIGINT UNSIGNED   NOT NULL,
    fire_at        DATETIME(3)       NOT NULL COMMENT 'UTC: the instant the expression named',
    status         ENUM('firing','fired','skipped','failed') NOT NULL COMMENT 'firing = claimed by owner until lease_until',
    request_id     VARCHAR(64)       NOT NULL COMMENT 'idempotency key of the campaign or run it creates',
    campaign_kind  ENUM('promotion','coupon','hot_goods') NULL,
    campaign_id    BIGINT UNSIGNED   NULL COMMENT 'what the firing created',
    reason         VARCHAR(1000)     NOT NULL DEFAULT '' COMMENT 'why it was skipped or failed, or the last error of an attempt',
    attempts       SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    owner          VARCHAR(128)      NOT NULL DEFAULT '' COMMENT 'pushd holding or last holding it',
    lease_until    DATETIME(3)       NULL,
    claimed_at     DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    finished_at    DATETIME(3)       NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_schedule_firing (schedule_id, fire_at),
    KEY idx_schedule_firing_lease (status, lease_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='each firing of a schedule, once: fired with its campaign, skipped or failed with why';

-- +goose Down
DROP TABLE IF EXISTS schedule_firing;
DROP TABLE IF EXISTS schedule;
