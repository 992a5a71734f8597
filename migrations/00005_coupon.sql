-- Coupon lifecycle support. Expiring coupons is a sweep over items whose
-- window has ended while still issued or claimed:
--   UPDATE sales_promotion_coupon_item SET status = 'expired'
--   WHERE status IN ('issued','claimed') AND valid_until <= NOW(3) LIMIT n
-- which this index turns into two bounded range scans instead of a scan of
-- every coupon ever issued.

-- +goose Up
ALTER TABLE sales_promotion_coupon_item
    ADD KEY idx_sales_promotion_coupon_item_expiry (status, valid_until);

-- +goose Down
ALTER TABLE sales_promotion_coupon_item
    DROP KEY idx_sales_promotion_coupon_item_expiry;
