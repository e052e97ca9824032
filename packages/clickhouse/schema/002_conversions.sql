-- Latest known state of each conversion (one merchant order). Read with FINAL.
CREATE TABLE IF NOT EXISTS conversions_v1 (
  conversion_id String COMMENT 'deterministic id from merchant and order id',
  merchant_id UInt32 COMMENT 'merchant that sent the postback',
  order_id String COMMENT 'merchant order id',
  campaign_id UInt32 COMMENT 'credited campaign, 0 when unattributed',
  influencer_id UInt32 COMMENT 'credited influencer, 0 when unattributed',
  link_id UInt32 COMMENT 'link of the credited click, 0 when none',
  click_id String COMMENT 'click id sent by the merchant, empty when none',
  attribution String COMMENT 'how it was credited: click, coupon, unattributed, forged_click, expired_click, foreign_click',
  suspect UInt8 COMMENT '1 when click-to-conversion time is under the campaign minimum',
  status String COMMENT 'pending, approved, rejected, refunded',
  order_amount_minor Int64 COMMENT 'order amount in minor units of order_currency',
  order_currency FixedString(3) COMMENT 'ISO 4217 code of the order',
  commission_minor Int64 COMMENT 'current commission in minor units of commission_currency',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency of the campaign',
  occurred_at DateTime('UTC') COMMENT 'when the sale happened per the merchant',
  version UInt64 COMMENT 'ms the last applied event was received; the highest wins'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (conversion_id);
