-- Dead letters. RocketMQ moves a consumer group's message to %DLQ%<group>
-- after its last redelivery failed (or at once when the handler calls it
-- poison), keeps it only as long as the commit log (72 h by default), and
-- offers no way to list or re-send it. couponsd therefore drains its
-- group's dead-letter topic into mq_dead_letter with a consumer group of its
-- own (a row per message, keyed by group and message id, so a redelivered
-- dead letter is stored once). `mktctl events dlq list` reads these rows;
-- `mktctl events dlq replay` republishes a row's message to its original
-- topic and marks the row replayed, so it is not replayed twice.
-- mq_dead_letter_drain names the groups whose dead letters are drained here
-- (the groups the commands accept), with when a drain last started.

-- +goose Up
CREATE TABLE mq_dead_letter (
    id                BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    group_name        VARCHAR(255)      NOT NULL COMMENT 'consumer group that gave up on the message',
    msg_id            VARCHAR(64)       NOT NULL COMMENT 'the message''s unique id (the same on every redelivery)',
    topic             VARCHAR(127)      NOT NULL DEFAULT '' COMMENT 'the topic it was published to',
    tag               VARCHAR(255)      NOT NULL DEFAULT '',
    msg_keys          VARCHAR(1024)     NOT NULL DEFAULT '' COMMENT 'message keys, space separated',
    properties        JSON              NULL COMMENT 'user properties',
    body              MEDIUMBLOB        NULL,
    reason            VARCHAR(512)      NOT NULL DEFAULT '' COMMENT 'why it was dead-lettered, when known',
    reconsume_times   INT UNSIGNED      NOT NULL DEFAULT 0 COMMENT 'redeliveries it had',
    born_at           DATETIME(3)       NULL COMMENT 'when its producer sent it',
    stored_at         DATETIME(3)       NULL COMMENT 'when the broker stored the drained copy',
    drained_at        DATETIME(3)       NULL COMMENT 'when the drain stored the message; NULL = only its reason is known yet',
    replay_claimed_at DATETIME(3)       NULL COMMENT 'a replay is publishing it (taken over when older than a few minutes)',
    replayed_at       DATETIME(3)       NULL COMMENT 'when it was republished; never replayed again',
    replayed_by       VARCHAR(64)       NOT NULL DEFAULT '',
    created_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_mq_dead_letter_msg (group_name, msg_id),
    KEY idx_mq_dead_letter_pending (group_name, replayed_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='dead-lettered messages drained from %DLQ% topics, and their replays';

CREATE TABLE mq_dead_letter_drain (
    group_name      VARCHAR(255)      NOT NULL COMMENT 'the consumer group whose %DLQ% topic is drained',
    dlq_topic       VARCHAR(127)      NOT NULL,
    drain_group     VARCHAR(255)      NOT NULL COMMENT 'the consumer group that drains it',
    started_at      DATETIME(3)       NOT NULL COMMENT 'when a drain last started',
    PRIMARY KEY (group_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='groups whose dead letters are drained into mq_dead_letter';

-- +goose Down
DROP TABLE mq_dead_letter_drain;
DROP TABLE mq_dead_letter;
