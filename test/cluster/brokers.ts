import { readFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../../packages/common/src";
import { createKafka } from "../../packages/kafka/src";
import { REPO_ROOT } from "../../packages/testing/src";

/** The pid of a cluster instance (`c-kafka-2`, `c-redis-1`, …) from its pid file. */
export const pidOf = (instance: string) =>
  Number(readFileSync(path.join(REPO_ROOT, ".stack", "run", `${instance}.pid`), "utf8").split(" ")[0]);

/** The broker leading most partitions of `topic`. */
export async function leadingBroker(brokers: string, log: Logger, topic: string): Promise<number> {
  const admin = createKafka({ brokers, clientId: "cluster-test-admin", log }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const led = new Map<number, number>();
    for (const p of meta.topics[0]?.partitions ?? []) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
    return [...led.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 1;
  } finally {
    await admin.disconnect();
  }
}
