/**
 * The orders of the chaos tests (single-node and cluster): what each kind of order sends and what the books must
 * hold for it, computed independently of the worker.
 */
export const EUR_USD = { num: 11, den: 10, text: "1.1" };

/** kind 0 approved, 1 approved then refunded a third, 2 rejected, 3 pending, 4 refunded whole, 5 refunded twice over */
export type OrderPlan = { orderId: string; amount: number; currency: "USD" | "EUR"; kind: number };

export type Expected = {
  pending: number;
  approved: number;
  paid: number;
  rejected: number;
  reversed: number;
  entries: number;
};

export const roundHalfUp = (num: number, den: number) => Math.floor((2 * num + den) / (2 * den));
export const addExpected = (a: Expected | undefined, b: Expected): Expected => ({
  pending: (a?.pending ?? 0) + b.pending,
  approved: (a?.approved ?? 0) + b.approved,
  paid: (a?.paid ?? 0) + b.paid,
  rejected: (a?.rejected ?? 0) + b.rejected,
  reversed: (a?.reversed ?? 0) + b.reversed,
  entries: (a?.entries ?? 0) + b.entries,
});

/** The ground truth, computed independently of the worker: 10 % of the USD value, refunds pro rata, capped at the sale. */
export function expectedFor(p: OrderPlan): Expected {
  const usd = p.currency === "USD" ? p.amount : roundHalfUp(p.amount * EUR_USD.num, EUR_USD.den);
  const c = roundHalfUp(usd * 1000, 10_000);
  const zero = { pending: 0, approved: 0, paid: 0, rejected: 0, reversed: 0 };
  switch (p.kind) {
    case 0:
      return { ...zero, approved: c, entries: 3 };
    case 1: {
      const rev = roundHalfUp(c * Math.floor(p.amount / 3), p.amount);
      return { ...zero, approved: c - rev, reversed: rev, entries: 5 };
    }
    case 2:
      return { ...zero, rejected: c, entries: 3 };
    case 3:
      return { ...zero, pending: c, entries: 1 };
    default:
      return { ...zero, reversed: c, entries: 3 };
  }
}

/** The postbacks of one order, sent one after another (each retried until acknowledged). */
export function postbacksFor(p: OrderPlan, t0: number, clickId: string): Record<string, string | number>[] {
  const at = (k: number) => t0 + k * 1000;
  const base = { order_id: p.orderId, currency: p.currency };
  const sale = { ...base, type: "sale", amount: p.amount, click_id: clickId, occurred_at: at(0) };
  const approve = { ...base, type: "approve", occurred_at: at(1) };
  switch (p.kind) {
    case 0:
      return [sale, approve];
    case 1:
      return [sale, approve, { ...base, type: "refund", amount: Math.floor(p.amount / 3), occurred_at: at(2) }];
    case 2:
      return [sale, { ...base, type: "reject", reason: "returned", occurred_at: at(1) }];
    case 3:
      return [sale];
    case 4:
      return [sale, { ...base, type: "refund", amount: p.amount, occurred_at: at(2) }];
    default:
      // a refund larger than the sale: capped at the sale
      return [sale, { ...base, type: "refund", amount: p.amount * 2, occurred_at: at(2) }];
  }
}

/** The ledger summed per conversion (entries `n`); `paid` where the test pays out. */
export type ConversionTotals = {
  conversion_id: string;
  pending: number;
  approved: number;
  paid?: number;
  rejected: number;
  reversed: number;
  n: number;
};

/**
 * Entries lost and duplicated, and conversions whose money is wrong, against the ground truth: a conversion the plan
 * does not know counts all its entries as duplicated; one missing from the ledger, all its expected entries as lost.
 */
export function tallyBooks(rows: readonly ConversionTotals[], expected: ReadonlyMap<string, Expected>) {
  let lost = 0;
  let duplicated = 0;
  let wrong = 0;
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(row.conversion_id);
    const e = expected.get(row.conversion_id);
    if (!e) {
      duplicated += row.n;
      continue;
    }
    lost += Math.max(0, e.entries - row.n);
    duplicated += Math.max(0, row.n - e.entries);
    const money = [row.pending - e.pending, row.approved - e.approved, row.rejected - e.rejected];
    money.push(row.reversed - e.reversed, row.paid === undefined ? 0 : row.paid - e.paid);
    if (money.some((d) => d !== 0)) wrong++;
  }
  for (const [id, e] of expected) if (!seen.has(id)) lost += e.entries;
  return { lost, duplicated, wrong };
}
