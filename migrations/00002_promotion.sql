-- Marketing campaigns: promotions announced by push, coupon campaigns (lazy or
-- pushed) and the coupons members hold. Audience columns hold the JSON text of
-- a structured segment filter over membership_filter ('{}' = every member).
-- Channels use the names sms, email, app (app push) and inbox (in-site).

-- +goose Up
CREATE TABLE sales_promotion (
    id                BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    request_id        VARCHAR(64)       NULL COMMENT 'client idempotency key for create, NULL = none',
    name              VARCHAR(128)      NOT NULL,
    kind              ENUM('full_reduction','flat_discount','gift','percentage_off') NOT NULL,
    threshold_cents   BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'full_reduction: order total that unlocks the discount',
    discount_cents    BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'full_reduction, flat_discount: amount taken off',
    percent_off       TINYINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT 'percentage_off: 1..99',
    gift_text         VARCHAR(255)      NOT NULL DEFAULT '' COMMENT 'gift: what the member gets',
    message_template  TEXT              NOT NULL COMMENT 'text pushed to each member',
    channels          SET('sms','email','app','inbox') NOT NULL,
    audience          JSON              NOT NULL COMMENT 'segment filter, {} = every member',
    status            ENUM('created','planning','running','paused','cancelled','completed','failed') NOT NULL DEFAULT 'created',
    status_reason     VARCHAR(255)      NOT NULL DEFAULT '' COMMENT 'why it failed / was cancelled',
    shard_size        INT UNSIGNED      NOT NULL DEFAULT 1000 COMMENT 'members per shard',
    planned_members   BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'audience size counted by the planner',
    planned_shards    INT UNSIGNED      NOT NULL DEFAULT 0 COMMENT 'campaign_shard rows written by the planner',
    start_at          DATETIME(3)       NULL COMMENT 'earliest push time, NULL = at once',
    created_by        VARCHAR(64)       NOT NULL DEFAULT '' COMMENT 'operator',
    planned_at        DATETIME(3)       NULL,
    finished_at       DATETIME(3)       NULL,
    created_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_sales_promotion_request (request_id),
    KEY idx_sales_promotion_status (status, start_at),
    KEY idx_sales_promotion_created (created_at),
    CONSTRAINT chk_sales_promotion_percent CHECK (percent_off <= 100),
    CONSTRAINT chk_sales_promotion_shard_size CHECK (shard_size > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='promotion campaigns pushed to a segment, one row per launch';

-- Validity: a coupon can be issued while now is in [valid_from, valid_until).
-- validity_kind fixed: items are usable in that same window. relative: an item
-- is usable for valid_days days from its issue (see the item's own window).
CREATE TABLE sales_promotion_coupon (
    id                BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    request_id        VARCHAR(64)       NULL COMMENT 'client idempotency key for create, NULL = none',
    name              VARCHAR(128)      NOT NULL,
    kind              ENUM('amount','percent') NOT NULL,
    amount_cents      BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'amount: value off the order',
    threshold_cents   BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'minimum order total, 0 = none',
    percent_off       TINYINT UNSIGNED  NOT NULL DEFAULT 0 COMMENT 'percent: 1..99',
    cap_cents         BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'percent: maximum discount, 0 = no cap',
    validity_kind     ENUM('fixed','relative') NOT NULL DEFAULT 'fixed',
    valid_from        DATETIME(3)       NOT NULL,
    valid_until       DATETIME(3)       NOT NULL COMMENT 'exclusive',
    valid_days        SMALLINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'relative: days an item stays usable',
    total_quota       BIGINT UNSIGNED   NULL COMMENT 'items that may ever be issued, NULL = unlimited',
    issued_count      BIGINT UNSIGNED   NOT NULL DEFAULT 0 COMMENT 'items issued so far, never above total_quota',
    per_member_limit  SMALLINT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'items one member may hold (item seq 1..limit)',
    audience          JSON              NOT NULL COMMENT 'segment filter, {} = every member',
    issue_mode        ENUM('lazy','push') NOT NULL COMMENT 'lazy: issued at next login, push: issued and announced by a push run',
    status            ENUM('active','disabled') NOT NULL DEFAULT 'active',
    message_template  TEXT              NULL COMMENT 'push mode: announcement text',
    channels          SET('sms','email','app','inbox') NOT NULL DEFAULT '' COMMENT 'push mode: channels',
    push_status       ENUM('none','created','planning','running','paused','cancelled','completed','failed') NOT NULL DEFAULT 'none' COMMENT 'push mode: progress of the issuing run, none for lazy',
    shard_size        INT UNSIGNED      NOT NULL DEFAULT 1000,
    planned_members   BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    planned_shards    INT UNSIGNED      NOT NULL DEFAULT 0,
    created_by        VARCHAR(64)       NOT NULL DEFAULT '',
    created_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_sales_promotion_coupon_request (request_id),
    KEY idx_sales_promotion_coupon_active (status, issue_mode, valid_until),
    KEY idx_sales_promotion_coupon_created (created_at),
    CONSTRAINT chk_sales_promotion_coupon_percent CHECK (percent_off <= 100),
    CONSTRAINT chk_sales_promotion_coupon_window CHECK (valid_until > valid_from),
    CONSTRAINT chk_sales_promotion_coupon_limit CHECK (per_member_limit >= 1),
    CONSTRAINT chk_sales_promotion_coupon_quota CHECK (total_quota IS NULL OR issued_count <= total_quota)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='coupon campaigns: value, validity, quota, per-member limit, audience, issue mode';

-- The unique key is the last word on "never issued twice": the n-th coupon of
-- a campaign for a member has seq n (1..per_member_limit).
CREATE TABLE sales_promotion_coupon_item (
    id           BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    coupon_id    BIGINT UNSIGNED   NOT NULL COMMENT 'sales_promotion_coupon.id',
    member_id    BIGINT UNSIGNED   NOT NULL COMMENT 'membership_account.id',
    seq          SMALLINT UNSIGNED NOT NULL DEFAULT 1 COMMENT '1..per_member_limit',
    status       ENUM('issued','claimed','locked','redeemed','expired') NOT NULL DEFAULT 'issued',
    order_id     VARCHAR(64)       NULL COMMENT 'order holding (locked) or having used (redeemed) the coupon',
    valid_from   DATETIME(3)       NOT NULL,
    valid_until  DATETIME(3)       NOT NULL COMMENT 'exclusive',
    issued_at    DATETIME(3)       NOT NULL,
    claimed_at   DATETIME(3)       NULL,
    locked_at    DATETIME(3)       NULL,
    redeemed_at  DATETIME(3)       NULL,
    created_at   DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at   DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_sales_promotion_coupon_item (coupon_id, member_id, seq),
    KEY idx_sales_promotion_coupon_item_member (member_id, status, valid_until),
    KEY idx_sales_promotion_coupon_item_order (order_id),
    CONSTRAINT chk_sales_promotion_coupon_item_seq CHECK (seq >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='coupons held by members and their lifecycle state';

-- +goose Down
DROP TABLE IF EXISTS sales_promotion_coupon_item;
DROP TABLE IF EXISTS sales_promotion_coupon;
DROP TABLE IF EXISTS sales_promotion;
