/**
 * Payout runs for the chaos test: created and marked paid through the reports API while the worker is killed, the
 * broker restarted and ClickHouse stopped. Every call is retried until the service answers (a 5xx or a refused
 * connection is an outage, not an answer); the ground truth of the paid bucket is what the API returned for the runs'
 * lines, summed here per influencer and per conversion.
 */
import { FINANCE_KEY } from "./helpers";

type Item = { conversion_id: string; amount_minor: number; entry_ids: string[] };
type Line = {
  line_id: string;
  influencer_id: number;
  amount_minor: number;
  currency: string;
  status: string;
  items: Item[];
};
export type Run = { run_id: string; status: string; total_minor: number; line_count: number; lines: Line[] };
type Answer = { status: number; body: unknown };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs until the service answers below 500 (and, for `retry409`, not 409: a concurrent creation holds the lock). */
async function postUntilAnswered(url: string, body: unknown, retry409 = false): Promise<Answer> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${FINANCE_KEY}` },
        body: JSON.stringify(body),
      });
      const answer = { status: res.status, body: (await res.json()) as unknown };
      if (res.status < 500 && !(retry409 && res.status === 409)) return answer;
    } catch {
      // the service or its stores are down: retry
    }
    await sleep(Math.min(2_000, 100 * 2 ** attempt));
  }
  throw new Error(`${url} never answered`);
}

function expectStatus(a: Answer, status: number, what: string): Run {
  if (a.status !== status) throw new Error(`${what} answered ${a.status}: ${JSON.stringify(a.body)}`);
  return a.body as Run;
}

export function payoutClient(reportsUrl: string, runKeyPrefix: string) {
  /** Creates (or, with the same key, fetches again) a USD run; a retry after an outage may find it already created. */
  const create = async (name: string, asOf: string) => {
    const a = await postUntilAnswered(
      `${reportsUrl}/v1/payout-runs`,
      { currency: "USD", as_of: asOf, idempotency_key: `${runKeyPrefix}-${name}` },
      true,
    );
    return { status: a.status, run: expectStatus(a, a.status === 200 ? 200 : 201, `creating run ${name}`) };
  };
  const markPaid = async (run: Run, body: { line_ids?: string[]; reference: string }) =>
    expectStatus(await postUntilAnswered(`${reportsUrl}/v1/payout-runs/${run.run_id}/paid`, body), 200, "marking paid");
  return { create, markPaid };
}

/** The paid bucket's ground truth from the runs as the API last returned them (only lines it reports paid). */
export function paidTruth(runs: readonly Run[]) {
  const byInfluencer = new Map<number, number>();
  const byConversion = new Map<string, { paid: number; events: number }>();
  const covered = new Set<string>();
  let doubleCovered = 0;
  let unpaidLines = 0;
  let inconsistentLines = 0;
  for (const run of runs)
    for (const line of run.lines) {
      for (const item of line.items)
        for (const id of item.entry_ids) {
          if (covered.has(id)) doubleCovered++;
          covered.add(id);
        }
      if (line.items.reduce((s, i) => s + i.amount_minor, 0) !== line.amount_minor) inconsistentLines++;
      if (line.status !== "paid") {
        unpaidLines++;
        continue;
      }
      byInfluencer.set(line.influencer_id, (byInfluencer.get(line.influencer_id) ?? 0) + line.amount_minor);
      for (const item of line.items) {
        if (item.amount_minor === 0) continue;
        const c = byConversion.get(item.conversion_id) ?? { paid: 0, events: 0 };
        byConversion.set(item.conversion_id, { paid: c.paid + item.amount_minor, events: c.events + 1 });
      }
    }
  return { byInfluencer, byConversion, doubleCovered, unpaidLines, inconsistentLines };
}
