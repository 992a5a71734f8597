-- push_message is written at the fan-out's full speed (tens of thousands of
-- rows a second), and every secondary index is another B-tree to maintain
-- per row. Cluster the table on its natural key instead of a surrogate id:
-- (campaign_kind, campaign_id, member_id, channel) is what every read uses
-- (the worker's per-page range scan, retries, failure listing by member), so
-- it becomes the primary key, and the surrogate id and the per-member
-- cross-campaign index (no access path of mkt reads it) go. What remains:
-- the primary key and idx_push_message_status (failures of a campaign).

-- +goose Up
ALTER TABLE push_message
    DROP COLUMN id,
    DROP INDEX uk_push_message,
    DROP INDEX idx_push_message_member,
    ADD PRIMARY KEY (campaign_kind, campaign_id, member_id, channel);

-- +goose Down
ALTER TABLE push_message
    DROP PRIMARY KEY,
    ADD COLUMN id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT FIRST,
    ADD PRIMARY KEY (id),
    ADD UNIQUE KEY uk_push_message (campaign_kind, campaign_id, member_id, channel),
    ADD KEY idx_push_message_member (member_id, created_at);
