-- The clicks again, ordered by UTC hour, so the clicks cube can rebuild an hour by a primary-key range (clicks_raw_v1
-- is ordered by click id). The attribution worker inserts the same rows it writes to clicks_raw_v1 (a replay writes
-- identical rows); `npm run aggregates:rebuild` copies them from clicks_raw_v1.
CREATE TABLE IF NOT EXISTS clicks_by_hour_v1 (
  hour DateTime('UTC') COMMENT 'start of the UTC hour of clicked_at',
  campaign_id UInt32 COMMENT 'campaign of the link',
  click_id String COMMENT 'signed click id, unique per served redirect',
  link_id UInt32 COMMENT 'tracking link',
  influencer_id UInt32 COMMENT 'influencer owning the link',
  merchant_id UInt32 COMMENT 'merchant running the campaign',
  clicked_at DateTime('UTC') COMMENT 'when the redirect was served, UTC seconds',
  ip String COMMENT 'client IP with last octet / last 80 bits zeroed',
  user_agent String COMMENT 'User-Agent header, truncated to 1024 characters',
  is_bot UInt8 COMMENT '1 when never billable (HEAD, prefetch, crawler or preview user agent)',
  version UInt64 COMMENT 'the clicks_raw_v1 row version'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, campaign_id, click_id);

-- Exact pre-aggregates of the clicks for reports (docs/adr/0006), with the grains and levels of commission_cube_v1:
-- grain 0 = 15 minutes, 1 = hour, 2 = day, 3 = month (UTC buckets of clicked_at); level 3 = per merchant, campaign and
-- influencer, 2 = per merchant and campaign, 0 = all. Unique clicks are non-bot clicks distinct by (link, IP, user
-- agent, UTC hour), so they add up over hours but not over quarter hours: 15-minute rows carry no unique clicks, and
-- hour rows carry, besides the total, the unique clicks split by the set of quarters their clicks fell in, so a part
-- of an hour (cut by a local midnight at :30 or :45, or by the period) is still counted exactly.
-- Written with overwrite semantics (rebuilt totals, higher version), never incremented. Read with FINAL.
-- Granules of 1024 rows: a report reads a few dozen short key ranges (one per run of tiles), each at least a granule.
CREATE TABLE IF NOT EXISTS clicks_cube_v1 (
  level UInt8 COMMENT '3 = merchant, campaign, influencer; 2 = merchant, campaign; 0 = everything',
  grain UInt8 COMMENT '0 = 15 minutes, 1 = hour, 2 = day, 3 = month',
  bucket DateTime('UTC') COMMENT 'start of the UTC bucket of clicked_at',
  merchant_id UInt32 COMMENT 'merchant (0 at level 0)',
  campaign_id UInt32 COMMENT 'campaign (0 at level 0)',
  influencer_id UInt32 COMMENT 'influencer (0 at levels 0 and 2)',
  clicks UInt64 COMMENT 'clicks, bots included',
  bot_clicks UInt64 COMMENT 'clicks flagged as bots',
  unique_clicks UInt64 COMMENT 'distinct non-bot (link, IP, user agent, UTC hour); 0 in 15-minute rows',
  unique_by_quarters Array(UInt64) COMMENT 'hour rows: element m (1-15) = unique clicks whose clicks fell in exactly the quarters of bit set m (bit q = minutes 15q to 15q+14); empty otherwise',
  version UInt64 COMMENT 'microseconds since epoch when the totals were read; the highest wins'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket)
ORDER BY (level, grain, bucket, merchant_id, campaign_id, influencer_id)
SETTINGS index_granularity = 1024;
