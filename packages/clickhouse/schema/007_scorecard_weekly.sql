-- Exact weekly pre-aggregates of clicks and credited sales for influencer rankings (docs/adr/0007). Rows are built per
-- source month (the partition of clicks_raw_v1 and conversions_v1) from those tables read with FINAL; a month is
-- rebuilt whenever the set of active parts of its partitions changed (parts are immutable, so the same part names
-- mean the same rows). Readers take, per month, only the rows of the latest recorded build; older builds are deleted.
CREATE TABLE IF NOT EXISTS scorecard_weekly_v1 (
  month UInt32 COMMENT 'source month (YYYYMM) the row was built from',
  build UInt64 COMMENT 'build version: microseconds since epoch when the build started; the latest recorded build of a month is the one read',
  week Date COMMENT 'Monday (UTC) of the week of the click or sale',
  merchant_id UInt32 COMMENT 'merchant',
  campaign_id UInt32 COMMENT 'campaign',
  influencer_id UInt32 COMMENT 'influencer',
  clicks UInt64 COMMENT 'served redirects',
  bot_clicks UInt64 COMMENT 'of them flagged as bots',
  unique_clicks UInt64 COMMENT 'non-bot clicks distinct by link, IP, user agent and UTC hour (hours never straddle weeks or months, so these add up)',
  conversions UInt64 COMMENT 'sales credited by click or coupon, by sale time',
  click_conversions UInt64 COMMENT 'of them credited through a click',
  suspect UInt64 COMMENT 'of them flagged suspect',
  pending UInt64 COMMENT 'of them pending now (as of the build)',
  approved UInt64 COMMENT 'of them approved now',
  rejected UInt64 COMMENT 'of them rejected now',
  refunded UInt64 COMMENT 'of them refunded in full now'
) ENGINE = MergeTree()
PARTITION BY month
ORDER BY (campaign_id, influencer_id, week, build);

-- One row per recorded build: the fingerprint (active part names of the month's source partitions) it was built from.
CREATE TABLE IF NOT EXISTS scorecard_builds_v1 (
  month UInt32 COMMENT 'source month (YYYYMM)',
  build UInt64 COMMENT 'build version, as in scorecard_weekly_v1',
  fingerprint String COMMENT 'sorted active part names of clicks_raw_v1 and conversions_v1 in that month when the build started'
) ENGINE = ReplacingMergeTree(build)
ORDER BY month;
