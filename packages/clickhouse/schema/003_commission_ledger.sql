-- The books: one entry per change of a conversion, with a deterministic id. Reports sum this table (FINAL).
CREATE TABLE IF NOT EXISTS commission_ledger_v1 (
  entry_id String COMMENT 'deterministic id from the event id and the entry kind',
  event_id String COMMENT 'postback event that caused the entry',
  conversion_id String COMMENT 'conversion the entry belongs to',
  merchant_id UInt32 COMMENT 'merchant',
  campaign_id UInt32 COMMENT 'campaign',
  influencer_id UInt32 COMMENT 'influencer credited',
  entry_type String COMMENT 'sale, approve, reject, refund, adjust',
  status String COMMENT 'status bucket this entry moves money into or out of: pending, approved, rejected, reversed',
  order_amount_minor Int64 COMMENT 'order amount delta in minor units of order_currency',
  order_currency FixedString(3) COMMENT 'ISO 4217 code of the order',
  commission_minor Int64 COMMENT 'commission delta in minor units of commission_currency (signed)',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency',
  event_time DateTime('UTC') COMMENT 'when the change happened per the merchant',
  payable_at DateTime('UTC') COMMENT 'approved entries: event_time plus the campaign holding period, after which the money is payable; other entries: event_time',
  recorded_at DateTime('UTC') COMMENT 'when the postback service accepted the event (taken from the event, so a replay writes an identical row)',
  version UInt64 COMMENT 'ms the event was received by the postback service'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_time)
ORDER BY (entry_id);
