-- Every accepted conversion event, the attribution worker's memory across batches (see docs/adr/0005).
-- The ledger of a conversion is a pure function of its rows here, so a replay rebuilds identical entries.
-- Status changes that arrive before their sale wait here ("parked") until the sale arrives.
CREATE TABLE IF NOT EXISTS conversion_events_v1 (
  conversion_id String COMMENT 'conversion (merchant order) the event belongs to; the Kafka key',
  event_id String COMMENT 'deterministic id of the merchant event',
  seq UInt64 COMMENT 'Kafka offset of the first delivery in the conversion partition: the order events are applied in',
  type String COMMENT 'sale, approve, reject, refund, adjust',
  event String COMMENT 'the ConversionEvent as JSON, as received',
  resolution String COMMENT 'sales only: attribution and commission terms frozen when the sale was first processed (JSON), else empty',
  settlement_amount_minor Int64 COMMENT 'sales only: order amount converted into the campaign settlement currency, minor units',
  fx_rate String COMMENT 'sales only: exact decimal rate order currency -> settlement currency in force at the sale',
  received_at DateTime('UTC') COMMENT 'when the postback service accepted the event'
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (conversion_id, event_id, seq);
