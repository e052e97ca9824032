-- Aggregates per hour (UTC) x merchant x campaign x influencer x status x currency, for fast reports.
-- Written with overwrite semantics: after each batch the worker rebuilds the totals of every key it touched
-- from the ledger (FINAL) and inserts them with a higher version. Never incremented from the stream.
CREATE TABLE IF NOT EXISTS commission_hourly_v1 (
  hour DateTime('UTC') COMMENT 'start of the UTC hour of event_time',
  merchant_id UInt32 COMMENT 'merchant',
  campaign_id UInt32 COMMENT 'campaign',
  influencer_id UInt32 COMMENT 'influencer',
  status String COMMENT 'ledger status bucket: pending, approved, rejected, reversed',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency',
  commission_minor Int64 COMMENT 'sum of ledger commission_minor for the key, minor units',
  order_amount_minor Int64 COMMENT 'sum of ledger order_amount_minor for the key (order currencies may differ; informational)',
  entries UInt64 COMMENT 'ledger entries summed',
  conversions UInt64 COMMENT 'distinct conversions with a sale entry in the key',
  version UInt64 COMMENT 'ms the totals were rebuilt; the highest wins'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, merchant_id, campaign_id, influencer_id, status, commission_currency);
