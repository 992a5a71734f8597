-- Members: accounts, points/levels, and the segmentation attributes the
-- marketing side filters on. Member ids are dense and start at 1, which lets
-- campaigns shard the audience by id range.

-- +goose Up
CREATE TABLE membership_account (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT 'member id, dense from 1',
    username    VARCHAR(64)     NOT NULL,
    mobile      VARCHAR(20)     NOT NULL DEFAULT '' COMMENT 'SMS address, empty = none',
    email       VARCHAR(191)    NOT NULL DEFAULT '' COMMENT 'e-mail address, empty = none',
    push_token  VARCHAR(128)    NOT NULL DEFAULT '' COMMENT 'app push token, empty = app not installed',
    status      ENUM('active','disabled') NOT NULL DEFAULT 'active' COMMENT 'disabled members receive nothing',
    created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_membership_account_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='member accounts and their push addresses (the seed''s user table)';

CREATE TABLE membership_point (
    member_id        BIGINT UNSIGNED  NOT NULL COMMENT 'membership_account.id',
    level            TINYINT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'member level 1..5',
    points           BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT 'spendable points',
    lifetime_points  BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT 'points ever earned, drives the level',
    created_at       DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (member_id),
    KEY idx_membership_point_level (level),
    CONSTRAINT chk_membership_point_level CHECK (level BETWEEN 1 AND 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='member level and points, one row per member';

-- Segment queries page the audience by primary key inside a shard's id range:
--   WHERE member_id >= :start AND member_id > :cursor AND member_id < :end
--     AND member_level IN (...) AND active_days >= ? AND (portrait_tags & :mask) = :mask
--   ORDER BY member_id LIMIT :page
-- which is a bounded primary-key range scan whatever the filter's selectivity.
-- idx_membership_filter_segment holds every filter column (plus member_id, as
-- every InnoDB secondary index does), so COUNT(*) over any segment is an
-- index-only scan, a range scan when the level is filtered.
CREATE TABLE membership_filter (
    member_id      BIGINT UNSIGNED  NOT NULL COMMENT 'membership_account.id',
    active_days    TINYINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'days with a login in the last 30 days, 0..30',
    member_level   TINYINT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'copy of membership_point.level, 1..5',
    portrait_tags  BIGINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT 'bitmask over the portrait tag dictionary (pkg/membership Tag): bit n = tag n',
    last_login_at  DATETIME(3)      NULL COMMENT 'NULL = never logged in',
    created_at     DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at     DATETIME(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (member_id),
    KEY idx_membership_filter_segment (member_level, active_days, portrait_tags),
    CONSTRAINT chk_membership_filter_active_days CHECK (active_days <= 30),
    CONSTRAINT chk_membership_filter_level CHECK (member_level BETWEEN 1 AND 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='segmentation attributes per member (activity, level, portrait tags), computed by the data team';

-- +goose Down
DROP TABLE IF EXISTS membership_filter;
DROP TABLE IF EXISTS membership_point;
DROP TABLE IF EXISTS membership_account;
