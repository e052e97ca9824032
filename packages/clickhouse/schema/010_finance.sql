-- Flags of each conversion and when its sale was recorded (docs/adr/0005 "Flags", docs/adr/0006 "Two clocks").
-- Written by the attribution worker with conversions_v1, from the resolution frozen with the sale, so a replay writes
-- an identical row. Reports filter and count flagged conversions here; statements show the flags of each line.
CREATE TABLE IF NOT EXISTS conversion_flags_v1 (
  conversion_id String COMMENT 'conversion (merchant order)',
  merchant_id UInt32 COMMENT 'merchant',
  campaign_id UInt32 COMMENT 'credited campaign, 0 when not credited',
  influencer_id UInt32 COMMENT 'credited influencer, 0 when not credited',
  commission_currency FixedString(3) COMMENT 'ISO 4217 settlement currency',
  occurred_at DateTime('UTC') COMMENT 'when the sale happened per the merchant',
  sale_recorded_ms UInt64 COMMENT 'ms since epoch when the postback service accepted the sale',
  flags Array(String) COMMENT 'why the conversion is suspect or not credited: click_after_sale, too_fast, bot_click, forged_click, ...',
  review UInt8 COMMENT '1 when its commission is held for review (status review) until approved or rejected',
  version UInt64 COMMENT 'the conversion row version; the highest wins'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (conversion_id);

-- What became of each delivery of each merchant event, for the merchant who sent it (the postback log).
-- One row per delivery (event id and Kafka offset), written by the attribution worker with the books; the outcome of a
-- delivery can change as its conversion's history grows (parked, then booked when the sale arrives) and the newest
-- computation (highest version, which grows with the history) wins. Replays write identical rows.
CREATE TABLE IF NOT EXISTS conversion_outcomes_v1 (
  merchant_id UInt32 COMMENT 'merchant that sent the event',
  received_at DateTime('UTC') COMMENT 'when the postback service accepted this delivery',
  event_id String COMMENT 'deterministic id of the merchant event',
  seq UInt64 COMMENT 'Kafka offset of this delivery',
  received_at_ms UInt64 COMMENT 'when the postback service accepted this delivery, ms since epoch',
  conversion_id String COMMENT 'conversion (merchant order)',
  order_id String COMMENT 'merchant order id',
  type String COMMENT 'sale, approve, reject, refund, adjust',
  source String COMMENT 'postback, api, shopify, woocommerce',
  amount_minor Int64 COMMENT 'amount sent, minor units of currency (0 when none)',
  currency String COMMENT 'currency sent, empty when none',
  occurred_at DateTime('UTC') COMMENT 'when the merchant says it happened',
  outcome String COMMENT 'booked, duplicate, parked, not_credited, ignored, dead_lettered',
  reason String COMMENT 'why, in words a merchant can act on; empty for a plain booking',
  version UInt64 COMMENT 'grows with the conversion history; the highest wins'
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (merchant_id, received_at, event_id, seq);

-- Payout runs (docs/adr/0006 "Payout runs"): immutable once written; an id, the rule that chose the lines (manifest)
-- and its totals. The reports service writes the lines first and the header last: a run exists once its header does.
CREATE TABLE IF NOT EXISTS payout_runs_v1 (
  run_id String COMMENT 'deterministic id of the run (from its idempotency key)',
  idempotency_key String COMMENT 'key the caller created the run with',
  currency FixedString(3) COMMENT 'ISO 4217 currency the run pays',
  as_of_ms UInt64 COMMENT 'the run counts ledger entries recorded and payable at or before this instant (ms)',
  created_at_ms UInt64 COMMENT 'when the run was created (ms)',
  created_by String COMMENT 'role of the key that created it',
  manifest String COMMENT 'the rule that chose the lines: cutoff, holding, thresholds (JSON)',
  total_minor Int64 COMMENT 'sum of the line amounts, minor units',
  line_count UInt32 COMMENT 'number of lines',
  line_ids Array(String) COMMENT 'the lines of the run: only these count (a crashed attempt may have left others)',
  version UInt64 COMMENT 'created_at_ms'
) ENGINE = ReplacingMergeTree(version)
ORDER BY (run_id);

CREATE TABLE IF NOT EXISTS payout_lines_v1 (
  run_id String COMMENT 'payout run',
  line_id String COMMENT 'deterministic id of the line (run and influencer): the SEPA end-to-end id',
  influencer_id UInt32 COMMENT 'payee',
  currency FixedString(3) COMMENT 'ISO 4217 currency',
  amount_minor Int64 COMMENT 'amount paid by this line, minor units (negative balances carried in are netted)',
  items String COMMENT 'conversions covered: conversion, merchant, order, campaign, amount and ledger entry ids (JSON)',
  entry_ids Array(String) COMMENT 'every ledger entry the line covers: an entry is paid by one line only, and the next run starts from the entries no line of a run covers',
  payee String COMMENT 'payee details copied from the catalog when the run was created: name, IBAN, BIC, PayPal (JSON)',
  version UInt64 COMMENT 'the run created_at_ms'
) ENGINE = ReplacingMergeTree(version)
ORDER BY (run_id, line_id);

-- Lines marked paid. The money moves to the ledger's paid bucket through the attribution worker (a payout event per
-- covered conversion on the postbacks topic); this table records finance's statement that the line was paid.
CREATE TABLE IF NOT EXISTS payout_line_paid_v1 (
  run_id String COMMENT 'payout run',
  line_id String COMMENT 'payout line',
  paid_at_ms UInt64 COMMENT 'when finance says the money left (ms)',
  reference String COMMENT 'payer reference (bank batch, PayPal batch id), may be empty',
  version UInt64 COMMENT 'the first marking wins: version = max - paid_at_ms'
) ENGINE = ReplacingMergeTree(version)
ORDER BY (run_id, line_id);
