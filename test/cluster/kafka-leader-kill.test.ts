/**
 * The producer across a partition leader's SIGKILL on the cluster profile (three brokers, RF 3, min.insync.replicas 2;
 * docs/adr/0009). Several loops send with acks=all, half of them one small message per send, half a batch spread over
 * the partitions (as the coalescing postback publisher and the click publisher do), while
 * the broker leading most of the topic's partitions is SIGKILLed and restarted. Afterwards:
 * - every acknowledged message is on the topic (at least once: consumers dedupe by id, so a repeat is counted, not
 *   failed);
 * - the producer is not stuck: every partition acknowledges a send started after the kill within RECOVERY_MS of it,
 *   and every partition acknowledges sends again in the last seconds of the run.
 * Clients: LEADER_KILL_CLIENTS (comma-separated, default "platformatic"); `LEADER_KILL_CLIENTS=kafkajs` runs the old
 * client through the same test for the side-by-side record (it is expected to fail: ADR 0008). Each run prints one
 * JSON line and writes it to .stack/leader-kill-<client>.json.
 * Run: `npx vitest run --project chaos-cluster test/cluster/kafka-leader-kill.test.ts`.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKafka, createProducer, ensureTopics, type KafkaClientName } from "../../packages/kafka/src";
import { createTestWorld, eventually, REPO_ROOT, type TestWorld } from "../../packages/testing/src";
import { leadingBroker, pidOf } from "./brokers";

const CLIENTS = (process.env.LEADER_KILL_CLIENTS ?? "platformatic").split(",") as KafkaClientName[];
const IDEMPOTENT = process.env.LEADER_KILL_IDEMPOTENT !== "false";
const LOOPS = 8;
/** messages per send of every other loop (the rest send one): the coalesced postbacks and packed clicks span partitions */
const BATCH = Number(process.env.LEADER_KILL_BATCH ?? 25);
const PARTITIONS = 6;
const BEFORE_KILL_MS = 10_000;
const DOWN_MS = 15_000;
const AFTER_RESTART_MS = 30_000;
/** a send started after the kill must be acknowledged on every partition within this long of it */
const RECOVERY_MS = 30_000;
/** the final stretch in which every partition must still acknowledge sends */
const TAIL_MS = 8_000;

const stack = inject("clusterStack");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** async, unlike controlClusterInstance: the producer loops must keep running while the broker restarts */
const startBroker = (broker: number) =>
  promisify(execFile)("bash", [path.join(REPO_ROOT, "infra", "stack.sh"), "--cluster", "start", `c-kafka-${broker}`]);

let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld(stack, "leader_kill");
});
afterAll(() => world?.close());

const kafkaOf = (name: string) =>
  createKafka({ brokers: stack.KAFKA_BROKERS, clientId: `${world.id}-${name}`, log: world.log });

/** Every id on `topic`, with how often it is there, read until the count reaches the end offsets. */
async function idsOnTopic(topic: string): Promise<Map<string, number>> {
  const kafka = kafkaOf("reader");
  const admin = kafka.admin();
  await admin.connect();
  const end = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}.reader` });
  const ids = new Map<string, number>();
  let read = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      read++;
      const id = message.key?.toString() ?? "";
      ids.set(id, (ids.get(id) ?? 0) + 1);
    },
  });
  try {
    await eventually(
      async () => read,
      (n) => n >= end,
      120_000,
      500,
    );
  } finally {
    await consumer.disconnect();
  }
  return ids;
}

type Outcome = {
  client: KafkaClientName;
  idempotent: boolean;
  batch: number;
  killed_broker: number;
  sent: number;
  acked: number;
  failed: number;
  unsettled: number;
  on_topic: number;
  lost: number;
  duplicated: number;
  /** per partition: ms from the kill to the first acknowledgement of a send started after it (-1: none) */
  recovery_ms: number[];
  /** per partition: acknowledgements in the last TAIL_MS of the run */
  tail_acks: number[];
  first_errors: string[];
};

describe.each(CLIENTS)("the %s producer across a partition leader's SIGKILL", (client) => {
  it("loses no acknowledged message and acknowledges again on every partition within 30 s", async () => {
    const topic = `${world.id}.${client}`;
    const kafka = kafkaOf(client);
    await ensureTopics(kafka, [{ topic, numPartitions: PARTITIONS, replicationFactor: 3, minInsyncReplicas: 2 }]);
    const producer = createProducer(kafka, { client, idempotent: IDEMPOTENT });
    await producer.connect();

    const acked = new Set<string>();
    const errors = new Map<string, number>();
    let sent = 0;
    let failed = 0;
    let unsettled = 0;
    let killedAt = Number.POSITIVE_INFINITY;
    let stopAt = Number.POSITIVE_INFINITY;
    /** per partition: acknowledgement times of sends started after the kill */
    const acksAfterKill: number[][] = Array.from({ length: PARTITIONS }, () => []);
    const loop = async (l: number) => {
      const size = l % 2 === 0 ? 1 : BATCH;
      for (let i = 0; Date.now() < stopAt; i++) {
        const ids = Array.from({ length: size }, (_, j) => `${l}-${i}-${j}`);
        const startedAt = Date.now();
        sent += size;
        unsettled += size;
        try {
          const batches = await producer.send({
            topic,
            messages: ids.map((id) => ({ key: id, value: JSON.stringify({ id, startedAt }) })),
          });
          for (const id of ids) acked.add(id);
          if (startedAt > killedAt) for (const b of batches) acksAfterKill[b.partition]?.push(Date.now());
        } catch (err) {
          failed += size;
          const reason = String(err instanceof Error ? err.message : err).slice(0, 160);
          errors.set(reason, (errors.get(reason) ?? 0) + 1);
          await sleep(200);
        } finally {
          unsettled -= size;
        }
        await sleep(10);
      }
    };
    stopAt = Date.now() + BEFORE_KILL_MS + DOWN_MS + AFTER_RESTART_MS + 60_000;
    const loops = Array.from({ length: LOOPS }, (_, l) => loop(l));

    await sleep(BEFORE_KILL_MS);
    const broker = await leadingBroker(stack.KAFKA_BROKERS, world.log, topic);
    process.kill(pidOf(`c-kafka-${broker}`), "SIGKILL");
    killedAt = Date.now();
    await sleep(DOWN_MS);
    await startBroker(broker);
    await sleep(AFTER_RESTART_MS);
    stopAt = Date.now();
    // a send still retrying when the loops stop gets a minute to settle (a stuck producer never does)
    await Promise.race([Promise.all(loops), sleep(60_000)]);
    const stillUnsettled = unsettled;
    await Promise.race([producer.disconnect(), sleep(5_000)]);

    const onTopic = await idsOnTopic(topic);
    const lost = [...acked].filter((id) => !onTopic.has(id));
    const outcome: Outcome = {
      client,
      idempotent: IDEMPOTENT,
      batch: BATCH,
      killed_broker: broker,
      sent,
      acked: acked.size,
      failed,
      unsettled: stillUnsettled,
      on_topic: onTopic.size,
      lost: lost.length,
      duplicated: [...onTopic.values()].filter((n) => n > 1).length,
      recovery_ms: acksAfterKill.map((times) => (times.length > 0 ? Math.min(...times) - killedAt : -1)),
      tail_acks: acksAfterKill.map((times) => times.filter((t) => t >= stopAt - TAIL_MS).length),
      first_errors: [...errors.entries()].slice(0, 5).map(([reason, n]) => `${n}x ${reason}`),
    };
    const line = JSON.stringify(outcome);
    console.log(line);
    writeFileSync(
      path.join(REPO_ROOT, ".stack", `leader-kill-${client}${IDEMPOTENT ? "" : "-nonidempotent"}.json`),
      `${line}\n`,
    );

    expect(outcome.lost, `acknowledged but missing: ${lost.slice(0, 10).join(", ")}`).toBe(0);
    for (const ms of outcome.recovery_ms) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(RECOVERY_MS);
    }
    for (const n of outcome.tail_acks) expect(n).toBeGreaterThan(0);
    expect(outcome.unsettled).toBe(0);
  });
});
