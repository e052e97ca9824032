import { clickHouseOptions, createClickHouse, rebuildAllAggregates } from "@aff/clickhouse";
import { createLogger, errorMessage } from "@aff/common";
import { SingleBar } from "cli-progress";
import { loadConfig } from "./config";

/**
 * `npm run aggregates:rebuild`: (re)builds the reports' pre-aggregates from the ledger, month by month, with a
 * progress bar. Safe while the worker runs (see rebuildAllAggregates); run it once after deploying schema/006, 008 and 009.
 */
async function main() {
  const config = loadConfig();
  const log = createLogger("aggregates-rebuild", config.LOG_LEVEL);
  const ch = createClickHouse(clickHouseOptions(config, log));
  const bar = new SingleBar({ format: "aggregates {bar} {value}/{total} months | {month}", hideCursor: true });
  try {
    const t0 = performance.now();
    const months = await rebuildAllAggregates(ch, (done, total, monthStartSec) => {
      const month = new Date(monthStartSec * 1000).toISOString().slice(0, 7);
      if (done === 0) bar.start(total, 0, { month });
      else bar.update(done, { month });
    });
    bar.stop();
    log.info({ months, ms: Math.round(performance.now() - t0) }, "aggregates_rebuilt");
  } finally {
    await ch.close();
  }
}

main().catch((err) => {
  console.error(errorMessage(err));
  process.exit(1);
});
