/**
 * The end of the chaos test (issue 10): every report read from the pre-aggregates equals the same report read from the
 * ledger with FINAL, in six zones (three not whole hours), over the whole chaos period; then the whole postbacks topic
 * is replayed by the attribution worker (its consumer group rewound to the earliest offsets) and every report must
 * answer byte for byte as before, and still equal the ledger.
 */
import type { Logger } from "../../packages/common/src";
import { createKafka } from "../../packages/kafka/src";
import { changedBodies, compareReportSources, type ExactnessResult, eventually } from "../../packages/testing/src";
import { consumerLag, rewindGroup } from "./consumer-group";
import { FINANCE_KEY } from "./helpers";

export type ReplayCheck = {
  env: Record<string, string>;
  log: Logger;
  reportsUrl: string;
  /** the chaos period's first event time: reports cover from two days before it to two days after now */
  startMs: number;
  /** stops the supervised worker (SIGTERM, no respawn) and resolves once it exited */
  stopWorker: () => Promise<void>;
  /** starts a supervised worker again */
  startWorker: () => { stop: () => Promise<void> };
  /** true while the ledger still holds exactly the ground truth */
  ledgerIsTruth: () => Promise<boolean>;
};

export type ReplayOutcome = {
  before: ExactnessResult;
  after: ExactnessResult;
  changed: string[];
  replayed: number;
  replayMs: number;
  ledgerAfterReplay: boolean;
  aggregatesMatch: boolean;
  replayMatch: boolean;
};

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export async function checkReportsAcrossReplay(c: ReplayCheck): Promise<ReplayOutcome> {
  const group = c.env.GROUP_CONVERSIONS ?? "";
  const topic = c.env.TOPIC_POSTBACKS ?? "";
  const admin = createKafka({ brokers: c.env.KAFKA_BROKERS ?? "", clientId: "chaos-replay", log: c.log }).admin();
  await admin.connect();
  try {
    // the worker commits a batch after its ledger and aggregates are written: lag 0 means the books are complete
    await eventually(
      () => consumerLag(admin, group, topic),
      (l) => l === 0,
      300_000,
      1_000,
    );
    await c.stopWorker();
    // an explicit as_of after every entry was recorded: both paths count the same entries, now and after the replay
    const asOf = new Date().toISOString();
    const period = {
      base: c.reportsUrl,
      key: FINANCE_KEY,
      from: day(c.startMs - 2 * 86_400_000),
      to: day(Date.now() + 2 * 86_400_000),
      asOf,
      payouts: true,
    };
    const before = await compareReportSources(period);

    const replayed = await rewindGroup(admin, group, topic);
    const started = Date.now();
    const worker = c.startWorker();
    await eventually(
      () => consumerLag(admin, group, topic),
      (l) => l === 0,
      600_000,
      1_000,
    );
    const replayMs = Date.now() - started;
    await worker.stop();
    const ledgerAfterReplay = await c.ledgerIsTruth();
    const after = await compareReportSources(period);
    const changed = changedBodies(before, after);
    return {
      before,
      after,
      changed,
      replayed,
      replayMs,
      ledgerAfterReplay,
      aggregatesMatch: before.exact,
      replayMatch: replayed > 0 && ledgerAfterReplay && after.exact && changed.length === 0,
    };
  } finally {
    await admin.disconnect();
  }
}

/** What a failed check prints: the first few differences of each kind. */
export const exactnessProblems = (r: ExactnessResult) => ({
  mismatches: r.mismatches.slice(0, 5),
  notAggregate: r.notAggregate.slice(0, 5),
  failures: r.failures.slice(0, 5),
});
