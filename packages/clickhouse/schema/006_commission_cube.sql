-- Exact pre-aggregates of the ledger for reports (docs/adr/0006). One table holds every resolution:
-- grain 0 = 15 minutes, 1 = hour, 2 = day, 3 = month (UTC buckets of event_time), and
-- level 3 = per merchant, campaign and influencer; 2 = per merchant and campaign (influencer_id 0); 0 = all (ids 0).
-- Written with overwrite semantics by the attribution worker and `npm run aggregates:rebuild`: a key's total is
-- rebuilt (from the ledger for 15 minutes at level 3, from the next finer grain or level otherwise) and inserted with
-- a higher version. Never incremented. Read with FINAL.
CREATE TABLE IF NOT EXISTS commission_cube_v1 (
  level UInt8 COMMENT '3 = merchant, campaign, influencer; 2 = merchant, campaign; 0 = everything',
  grain UInt8 COMMENT '0 = 15 minutes, 1 = hour, 2 = day, 3 = month',
  bucket DateTime('UTC') COMMENT 'start of the UTC bucket of event_time',
  merchant_id UInt32 COMMENT 'merchant (0 at level 0)',
  campaign_id UInt32 COMMENT 'campaign (0 at level 0)',
  influencer_id UInt32 COMMENT 'influencer (0 at levels 0 and 2)',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency',
  status String COMMENT 'ledger status bucket: pending, approved, rejected, reversed',
  payable_day Date COMMENT 'approved entries: UTC day of payable_at; other statuses: 1970-01-01',
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
ORDER BY (level, grain, bucket, merchant_id, campaign_id, influencer_id, commission_currency, status, payable_day);

-- The approved ledger entries again, ordered by when they become payable. Reports read the one UTC day holding
-- their `as_of` instant from here (the cube keys approved money by payable day, so that day alone is split exactly),
-- and payouts read the entries of the last minutes before `as_of`. The worker inserts the same rows it writes to the
-- ledger (a replay writes identical rows); the rebuild copies them from the ledger.
CREATE TABLE IF NOT EXISTS approved_ledger_v1 (
  entry_id String COMMENT 'ledger entry id',
  merchant_id UInt32 COMMENT 'merchant',
  campaign_id UInt32 COMMENT 'campaign',
  influencer_id UInt32 COMMENT 'influencer credited',
  entry_type String COMMENT 'sale, approve, reject, refund, adjust',
  order_amount_minor Int64 COMMENT 'order amount delta in minor units of order_currency',
  order_currency FixedString(3) COMMENT 'ISO 4217 code of the order',
  commission_minor Int64 COMMENT 'commission delta in minor units of commission_currency (signed)',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency',
  event_time DateTime('UTC') COMMENT 'when the change happened per the merchant',
  payable_at DateTime('UTC') COMMENT 'when the money becomes payable',
  version UInt64 COMMENT 'the ledger row version'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(payable_at)
ORDER BY (payable_at, entry_id);
