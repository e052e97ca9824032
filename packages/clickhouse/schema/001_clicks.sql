-- One row per served redirect. Replays insert the same row again; ReplacingMergeTree keeps one per click_id.
CREATE TABLE IF NOT EXISTS clicks_raw_v1 (
  click_id String COMMENT 'signed click id, unique per served redirect',
  link_id UInt32 COMMENT 'tracking link',
  link_code String COMMENT 'tracking link code as shoppers see it',
  campaign_id UInt32 COMMENT 'campaign of the link',
  influencer_id UInt32 COMMENT 'influencer owning the link',
  merchant_id UInt32 COMMENT 'merchant running the campaign',
  clicked_at DateTime('UTC') COMMENT 'when the redirect was served, UTC seconds',
  clicked_at_ms UInt64 COMMENT 'when the redirect was served, ms since epoch',
  ip String COMMENT 'client IP with last octet / last 80 bits zeroed',
  user_agent String COMMENT 'User-Agent header, truncated to 1024 characters',
  referer String COMMENT 'Referer header, truncated to 2048 characters',
  is_bot UInt8 COMMENT '1 when HEAD, prefetch or a crawler/preview user agent: never billable',
  is_unique UInt8 COMMENT '1 for the first click per link, IP and user agent in an hour',
  version UInt64 COMMENT 'row version for ReplacingMergeTree (ms the row was built)'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(clicked_at)
ORDER BY (click_id);
