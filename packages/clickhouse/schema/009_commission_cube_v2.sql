-- The commission cube without the payable day in its key (docs/adr/0006): keyed by it, a sparse month held as many
-- rows as the ledger. Held and payable are now split at read time from approved_ledger_v1 (entries whose payable_at
-- lies between the period and `as_of`), so any `as_of` stays exact. Replaces commission_cube_v1, which nothing reads
-- any more (derived data: drop it once `npm run aggregates:rebuild` has filled this one).
-- Grains: 0 = 15 minutes, 1 = hour, 2 = day, 3 = month (UTC buckets of event_time); levels: 3 = merchant, campaign,
-- influencer; 2 = merchant, campaign; 0 = all. Written with overwrite semantics, never incremented. Read with FINAL.
-- Granules of 1024 rows: a report reads a few dozen short key ranges (one per run of tiles), each at least a granule.
CREATE TABLE IF NOT EXISTS commission_cube_v2 (
  level UInt8 COMMENT '3 = merchant, campaign, influencer; 2 = merchant, campaign; 0 = everything',
  grain UInt8 COMMENT '0 = 15 minutes, 1 = hour, 2 = day, 3 = month',
  bucket DateTime('UTC') COMMENT 'start of the UTC bucket of event_time',
  merchant_id UInt32 COMMENT 'merchant (0 at level 0)',
  campaign_id UInt32 COMMENT 'campaign (0 at level 0)',
  influencer_id UInt32 COMMENT 'influencer (0 at levels 0 and 2)',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency',
  status String COMMENT 'ledger status bucket: pending, approved, rejected, reversed',
  commission_minor Int64 COMMENT 'sum of ledger commission_minor, minor units of commission_currency',
  order_amount_minor Int64 COMMENT 'sum of ledger order_amount_minor of all entries (order currencies may differ)',
  revenue_minor Int64 COMMENT 'sum of ledger order_amount_minor of pending and approved entries (order currencies)',
  sales UInt64 COMMENT 'ledger entries of type sale (one per conversion)',
  order_currency_min String COMMENT 'smallest order currency among the sale entries, empty when none',
  order_currency_max String COMMENT 'largest order currency among the sale entries, empty when none',
  entries UInt64 COMMENT 'ledger entries summed',
  version UInt64 COMMENT 'microseconds since epoch when the totals were read; the highest wins'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket)
ORDER BY (level, grain, bucket, merchant_id, campaign_id, influencer_id, commission_currency, status)
SETTINGS index_granularity = 1024;
