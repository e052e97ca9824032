import { ibanValid } from "@aff/catalog";
import type { PayoutCandidate, PayoutLineRow, PayoutRunRow } from "@aff/clickhouse";
import { describe, expect, it } from "vitest";
import { buildLines, lineIdOf, paypalCsv, runIdOf, sepaXml } from "./payout-runs";

const c = (
  influencer: number,
  campaign: number,
  conversion: string,
  entry: string,
  minor: number,
): PayoutCandidate => ({
  entry_id: entry.padEnd(32, "0"),
  conversion_id: conversion.padEnd(32, "0"),
  merchant_id: 1,
  campaign_id: campaign,
  influencer_id: influencer,
  commission_minor: minor,
});
const rule = {
  currency: "EUR",
  asOfMs: 0,
  minPayout: (campaign: number) => (campaign === 9 ? 1000 : 0),
  minLineMinor: 1,
};

describe("payout lines", () => {
  it("nets a debt, holds back a campaign under its minimum, skips a line that is not positive", () => {
    const run = runIdOf("k");
    const lines = buildLines(
      run,
      [
        c(1, 5, "a", "e1", 1000),
        c(1, 5, "a", "e2", -400), // a refund after payment on the same conversion
        c(1, 5, "b", "e3", 800),
        c(1, 9, "d", "e4", 999), // campaign 9 pays from 10.00
        c(2, 5, "e", "e5", -300), // only a debt: carried, nothing paid
        c(3, 6, "f", "e6", -500), // a debt in one campaign nets against another
        c(3, 5, "g", "e7", 700),
      ],
      rule,
      new Map([["a".padEnd(32, "0"), "ORDER-A"]]),
      new Map(),
    );
    expect(lines.map((l) => [l.influencer_id, l.amount_minor])).toEqual([
      [1, 1400],
      [3, 200],
    ]);
    const first = lines[0];
    expect(first?.line_id).toBe(lineIdOf(run, 1));
    expect(first?.items.map((i) => [i.order_id, i.amount_minor, i.entry_ids.length])).toEqual([
      ["ORDER-A", 600, 2],
      ["", 800, 1],
    ]);
  });

  it("validates IBANs with their check digits", () => {
    expect(ibanValid("DE89370400440532013000")).toBe(true);
    expect(ibanValid("DE89370400440532013001")).toBe(false);
    expect(ibanValid("GB82WEST12345698765432")).toBe(true);
  });

  it("writes PayPal and SEPA files that depend only on the stored run", () => {
    const run: PayoutRunRow = {
      run_id: "r".repeat(32),
      idempotency_key: "k",
      currency: "EUR",
      as_of_ms: Date.parse("2026-11-01T00:00:00Z"),
      created_at_ms: Date.parse("2026-11-02T10:00:00.123Z"),
      created_by: "finance",
      manifest: "{}",
      total_minor: 1234,
      line_count: 2,
      line_ids: ["a".repeat(32), "b".repeat(32)],
      version: 1,
    };
    const line = (id: string, payee: object, amount: number): PayoutLineRow => ({
      run_id: run.run_id,
      line_id: id.repeat(32),
      influencer_id: 1,
      currency: "EUR",
      amount_minor: amount,
      items: "[]",
      entry_ids: [],
      payee: JSON.stringify(payee),
      version: 1,
    });
    const lines = [
      line("a", { name: "Ada & Co <x>", iban: "DE89370400440532013000", paypal_email: "ada@example.com" }, 1200),
      line("b", { name: "Bo" }, 34),
    ];
    expect(paypalCsv(run, lines)).toEqual({
      text: `ada@example.com,12.00,EUR,${"a".repeat(32)},Payout ${run.run_id}\r\n`,
      skipped: 1,
    });
    const sepa = sepaXml(run, lines, { name: "Network", iban: "DE02120300000000202051" });
    expect(sepa.skipped).toBe(1);
    expect(sepa.text).toContain(`<EndToEndId>${"a".repeat(32)}</EndToEndId>`);
    expect(sepa.text).toContain("<Nm>Ada &amp; Co &lt;x&gt;</Nm>");
    expect(sepa.text).toContain("<CreDtTm>2026-11-02T10:00:00</CreDtTm><NbOfTxs>1</NbOfTxs><CtrlSum>12.00</CtrlSum>");
    expect(sepaXml(run, lines, { name: "Network", iban: "DE02120300000000202051" }).text).toBe(sepa.text);
  });
});
