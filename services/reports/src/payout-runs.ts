import type { Payee } from "@aff/catalog";
import type { PayoutCandidate, PayoutLineRow, PayoutRunRow } from "@aff/clickhouse";
import { deterministicId, formatMinor } from "@aff/common";
import { z } from "zod";

/**
 * Payout runs as pure functions (docs/adr/0006 "Payout runs"): which entries a run covers and how they become lines,
 * and the files payers load. Everything here is a function of the stored run, so an export is byte-identical forever.
 */

export const PayoutItem = z.object({
  conversion_id: z.string(),
  merchant_id: z.number().int(),
  order_id: z.string(),
  campaign_id: z.number().int(),
  amount_minor: z.number().int(),
  entry_ids: z.array(z.string()),
});
export type PayoutItem = z.infer<typeof PayoutItem>;

export const LinePayee = z.object({
  name: z.string().optional(),
  iban: z.string().optional(),
  bic: z.string().optional(),
  paypal_email: z.string().optional(),
});
export type LinePayee = z.infer<typeof LinePayee>;

export type RunRule = {
  currency: string;
  asOfMs: number;
  /** minimum payout of a campaign's balance (minor units), from the payout thresholds */
  minPayout: (campaignId: number) => number;
  /** smallest line paid (minor units); smaller balances wait for the next run */
  minLineMinor: number;
};

export type BuiltLine = {
  line_id: string;
  influencer_id: number;
  amount_minor: number;
  items: PayoutItem[];
  payee: LinePayee;
};

export const runIdOf = (idempotencyKey: string) => deterministicId("payout_run", idempotencyKey);
export const lineIdOf = (runId: string, influencerId: number) => deterministicId("payout_line", runId, influencerId);
/** The payout event of one conversion of a line: a re-marking publishes the same id, and the worker keeps one. */
export const payoutEventIdOf = (lineId: string, conversionId: string) =>
  deterministicId("payout_event", lineId, conversionId);

function groupBy<T, K>(xs: readonly T[], key: (x: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const group = out.get(k);
    if (group) group.push(x);
    else out.set(k, [x]);
  }
  return out;
}
const sum = (xs: readonly PayoutCandidate[]) => xs.reduce((s, c) => s + c.commission_minor, 0);

/**
 * Lines of a run from the uncovered payable entries. Per influencer, a campaign's balance is paid once it reaches the
 * campaign's minimum; a negative balance (money taken back after it was paid) is always netted, so a debt is carried
 * into every run until it is recovered. A line is paid only when its total is positive and at least `minLineMinor`;
 * otherwise none of its entries are covered and they wait for the next run.
 */
export function buildLines(
  runId: string,
  candidates: readonly PayoutCandidate[],
  rule: RunRule,
  orderIds: Map<string, string>,
  payees: Map<number, Payee>,
): BuiltLine[] {
  const lines: BuiltLine[] = [];
  for (const [influencerId, own] of groupBy(candidates, (c) => c.influencer_id)) {
    const included = [...groupBy(own, (c) => c.campaign_id)].flatMap(([campaignId, entries]) => {
      const balance = sum(entries);
      return balance < 0 || (balance > 0 && balance >= rule.minPayout(campaignId)) ? entries : [];
    });
    const total = sum(included);
    if (total <= 0 || total < rule.minLineMinor) continue;
    const items = [...groupBy(included, (c) => c.conversion_id)].map(([, entries]) => {
      const first = entries[0] as PayoutCandidate;
      return {
        conversion_id: first.conversion_id,
        merchant_id: first.merchant_id,
        order_id: orderIds.get(first.conversion_id) ?? "",
        campaign_id: first.campaign_id,
        amount_minor: sum(entries),
        entry_ids: entries.map((e) => e.entry_id).sort(),
      };
    });
    items.sort((a, b) => a.conversion_id.localeCompare(b.conversion_id));
    const p = payees.get(influencerId);
    lines.push({
      line_id: lineIdOf(runId, influencerId),
      influencer_id: influencerId,
      amount_minor: total,
      items,
      payee: p ? { name: p.name, iban: p.iban, bic: p.bic, paypal_email: p.paypal_email } : {},
    });
  }
  return lines.sort((a, b) => a.influencer_id - b.influencer_id);
}

const iso = (ms: number) => new Date(ms).toISOString();
const money = (minor: number, currency: string) => formatMinor(minor, currency);
const xml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
const csvCell = (v: string | number) => {
  const s = String(v);
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === "string" ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};
const csv = (rows: (string | number)[][]) => `${rows.map((r) => r.map(csvCell).join(",")).join("\r\n")}\r\n`;

export const lineItems = (l: PayoutLineRow): PayoutItem[] => z.array(PayoutItem).parse(JSON.parse(l.items));
export const linePayee = (l: PayoutLineRow): LinePayee => LinePayee.parse(JSON.parse(l.payee));

/** The run as a ledger-like CSV: one row per line with its payee and what it covers. */
export function runCsv(run: PayoutRunRow, lines: readonly PayoutLineRow[]): string {
  return csv([
    ["run_id", "line_id", "influencer_id", "payee_name", "amount", "currency", "conversions", "entries", "as_of"],
    ...lines.map((l) => {
      const items = lineItems(l);
      return [
        run.run_id,
        l.line_id,
        l.influencer_id,
        linePayee(l).name ?? "",
        money(l.amount_minor, l.currency),
        l.currency,
        items.length,
        items.reduce((n, i) => n + i.entry_ids.length, 0),
        iso(run.as_of_ms),
      ];
    }),
  ]);
}

/**
 * PayPal mass payment file (no header): recipient email, amount, currency, unique id (the line id) and a note.
 * Lines whose payee has no PayPal address are left out and counted.
 */
export function paypalCsv(run: PayoutRunRow, lines: readonly PayoutLineRow[]): { text: string; skipped: number } {
  const rows: (string | number)[][] = [];
  let skipped = 0;
  for (const l of lines) {
    const email = linePayee(l).paypal_email;
    if (!email) skipped++;
    else rows.push([email, money(l.amount_minor, l.currency), l.currency, l.line_id, `Payout ${run.run_id}`]);
  }
  return { text: rows.length === 0 ? "" : csv(rows), skipped };
}

export type Debtor = { name: string; iban: string; bic?: string };

/**
 * SEPA credit transfer initiation (pain.001.001.03): one payment of the debtor's account, one transfer per line with
 * a validated IBAN, end-to-end id = the line id (32 characters, within the 35 allowed). Lines without an IBAN are left
 * out and counted. Execution date and creation time are the run's, so the file never changes.
 */
export function sepaXml(
  run: PayoutRunRow,
  lines: readonly PayoutLineRow[],
  debtor: Debtor,
): { text: string; skipped: number } {
  const payable = lines.filter((l) => linePayee(l).iban);
  const ctrl = money(
    payable.reduce((s, l) => s + l.amount_minor, 0),
    run.currency,
  );
  const created = iso(run.created_at_ms).slice(0, 19);
  const agent = (bic?: string) =>
    bic
      ? `<FinInstnId><BIC>${xml(bic)}</BIC></FinInstnId>`
      : "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>";
  const tx = payable.map((l) => {
    const p = linePayee(l);
    return [
      "<CdtTrfTxInf>",
      `<PmtId><EndToEndId>${l.line_id}</EndToEndId></PmtId>`,
      `<Amt><InstdAmt Ccy="${l.currency}">${money(l.amount_minor, l.currency)}</InstdAmt></Amt>`,
      p.bic ? `<CdtrAgt>${agent(p.bic)}</CdtrAgt>` : "",
      `<Cdtr><Nm>${xml((p.name ?? "").slice(0, 70))}</Nm></Cdtr>`,
      `<CdtrAcct><Id><IBAN>${xml(p.iban ?? "")}</IBAN></Id></CdtrAcct>`,
      `<RmtInf><Ustrd>Payout ${run.run_id}</Ustrd></RmtInf>`,
      "</CdtTrfTxInf>",
    ].join("");
  });
  const text = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    "<CstmrCdtTrfInitn>",
    `<GrpHdr><MsgId>${run.run_id}</MsgId><CreDtTm>${created}</CreDtTm><NbOfTxs>${payable.length}</NbOfTxs><CtrlSum>${ctrl}</CtrlSum><InitgPty><Nm>${xml(debtor.name)}</Nm></InitgPty></GrpHdr>`,
    `<PmtInf><PmtInfId>${run.run_id}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg><NbOfTxs>${payable.length}</NbOfTxs><CtrlSum>${ctrl}</CtrlSum>`,
    `<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf><ReqdExctnDt>${created.slice(0, 10)}</ReqdExctnDt>`,
    `<Dbtr><Nm>${xml(debtor.name)}</Nm></Dbtr><DbtrAcct><Id><IBAN>${xml(debtor.iban)}</IBAN></Id></DbtrAcct>`,
    `<DbtrAgt>${agent(debtor.bic)}</DbtrAgt><ChrgBr>SLEV</ChrgBr>`,
    ...tx,
    "</PmtInf>",
    "</CstmrCdtTrfInitn>",
    "</Document>",
    "",
  ].join("\n");
  return { text, skipped: lines.length - payable.length };
}
