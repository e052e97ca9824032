// Redirect benchmark (run through `npm run bench:redirect`, which builds, installs wrk and starts the stack).
// In one run and under the same conditions it drives wrk against (a) a bare node:http server answering a fixed 302
// and (b) the redirect service serving links from a store of BENCH_LINKS (default one million) links, then measures
// p50/p99 at a fixed rate, the redirect's peak RSS, and, after the load, the clicks in Kafka and in ClickHouse
// against the 302s served. The last line printed is one JSON object holding every figure.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const { Catalog, createRedis } = require(path.join(ROOT, "packages/catalog/dist/index.js"));
const { createClickHouse, ensureDatabase, ident, sql } = require(path.join(ROOT, "packages/clickhouse/dist/index.js"));
const { Kafka, logLevel } = require(require.resolve("kafkajs", { paths: [path.join(ROOT, "packages/kafka")] }));
const {
  catalogWriter,
  DEFAULT_CAMPAIGN,
  isolatedEnv,
  killServiceProcesses,
  readStackEnv,
  spawnNode,
  spawnService,
} = require(path.join(ROOT, "packages/testing/dist/index.js"));
const { z } = require(require.resolve("zod", { paths: [path.join(ROOT, "packages/catalog")] }));
const { splitClickRecord } = require(path.join(ROOT, "packages/events/dist/index.js"));

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const LINKS = num("BENCH_LINKS", 1_000_000);
const DURATION_S = num("BENCH_DURATION_S", 10);
const CONNECTIONS = num("BENCH_CONNECTIONS", 64);
const RATE = num("BENCH_RATE", 10_000);
const ROUNDS = num("BENCH_ROUNDS", 2);
const PORT_BASE = num("BENCH_PORT_BASE", 41_000);
const REDIS_DB = num("BENCH_REDIS_DB", 9);
// The bare server again, spinning this many µs of CPU per request before it answers: what a given amount of work per
// request costs in throughput on this machine, measured the same way (`bare_with_work`; empty list: skipped).
const WORK_US = (process.env.BENCH_WORK_US ?? "5,10,20").split(",").filter(Boolean).map(Number);

const stackEnv = readStackEnv();
const id = `bench_${randomBytes(4).toString("hex")}`;
const redisUrl = `${stackEnv.REDIS_URL.replace(/\/\d*$/, "")}/${REDIS_DB}`;
const env = {
  ...process.env,
  ...isolatedEnv({ ...stackEnv, REDIS_URL: redisUrl }, id),
  LOG_LEVEL: "info",
  CLICK_SPOOL_DIR: path.join(ROOT, ".stack/bench-spool", id),
};
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Warnings and errors of a spawned process go to the bench log; its other lines are dropped. */
const logProblems = (name) => (line) => {
  if (/"level":"(warn|error|fatal)"/.test(line)) log(`${name}:`, line.slice(0, 300));
};

function wrk(port, { seconds, connections, delayMs = 0 }) {
  const out = execFileSync(
    "wrk",
    [
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "5s",
      "-s",
      path.join(ROOT, "scripts/bench-redirect.lua"),
      `http://127.0.0.1:${port}`,
    ],
    { env: { ...process.env, BENCH_LINKS: String(LINKS), BENCH_DELAY_MS: String(delayMs) }, encoding: "utf8" },
  );
  const line = out.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${out}`);
  const r = JSON.parse(line.slice(9));
  return { ...r, rps: r.requests / (r.duration_us / 1e6), p50_ms: r.p50_us / 1000, p99_ms: r.p99_us / 1000 };
}

async function seed(catalog) {
  // The fixture's merchant and campaign; links are written in bulk below (a million through the API would take hours).
  const writer = catalogWriter(catalog);
  const merchant = await writer.merchant({ name: "Bench Shop" });
  const campaign = await writer.campaign({ ...DEFAULT_CAMPAIGN, name: "Bench", merchant_id: merchant.id });
  const influencers = [];
  for (let i = 0; i < 10; i++) influencers.push(await catalog.createInfluencer({ name: `Bench ${i}` }));
  const t0 = Date.now();
  const BATCH = 10_000;
  for (let start = 0; start < LINKS; start += BATCH) {
    const links = [];
    for (let i = start; i < Math.min(LINKS, start + BATCH); i++) {
      links.push({
        id: i + 1,
        code: `bn${String(i).padStart(7, "0")}`,
        campaign_id: campaign.id,
        influencer_id: influencers[i % influencers.length].id,
        merchant_id: merchant.id,
        destination: `https://shop.example.com/products/${i}?ref=influencer`,
        allowed_domains: campaign.allowed_domains,
        click_param: campaign.click_param,
        subs: i % 2 === 0 ? { sub1: "instagram" } : {},
        fallback_url: campaign.default_destination,
        status: "active",
        created_at_ms: Date.now(),
      });
    }
    await catalog.links.importMany(links);
  }
  log(`seeded ${LINKS} links in ${Date.now() - t0} ms`);
}

async function metric(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((s, l) => s + Number(l.split(" ").at(-1)), 0);
}

/** CPU µs (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
const cpuMicros = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};
/** CPU µs per request over wrk runs. */
const perRequest = (micros, runs) => Number((micros / runs.reduce((n, r) => n + r.requests, 0)).toFixed(1));
/** Peak resident memory (VmHWM) of a process, in MB. */
const peakRssMb = (pid) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

/**
 * ns per dependent random read over a 256 MB array (a pointer chase, so reads cannot overlap): the memory latency of
 * this VM, which varies between sessions. The redirect's 1 M-link table makes its CPU per request depend on it more
 * than the bare server's, so runs taken on different days compare only beside this figure (`memory_probe_ns`).
 */
function memoryProbeNs() {
  const n = 64 * 1024 * 1024;
  const next = new Uint32Array(n);
  // one cycle through every slot in a random order (Sattolo), so the chase never falls into a short loop
  for (let i = 0; i < n; i++) next[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * i);
    const t = next[i];
    next[i] = next[j];
    next[j] = t;
  }
  const reads = 2_000_000;
  let at = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < reads; k++) at = next[at];
  const ns = Number(process.hrtime.bigint() - t0) / reads;
  // the chase's end is read, so the loop is not dropped as dead code
  return at >= 0 ? Number(ns.toFixed(1)) : 0;
}

/**
 * Clicks on the topic: a record holds many clicks, one per line (packages/events click-records), so the topic is
 * read to its end and every line counted, with the distinct click ids (a record sent twice would show here).
 */
async function kafkaClicks(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map();
  try {
    for (const p of await admin.fetchTopicOffsets(topic))
      if (Number(p.high) > Number(p.low)) ends.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  const ids = new Set();
  let clicks = 0;
  let records = 0;
  if (ends.size === 0) return { clicks, ids: 0, records };
  const consumer = kafka.consumer({ groupId: `${id}-count`, maxBytes: 64 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            records++;
            for (const line of splitClickRecord(m.value)) {
              clicks++;
              ids.add(JSON.parse(line.toString("utf8")).click_id);
            }
            if (Number(m.offset) + 1 >= (ends.get(batch.partition) ?? 0)) ends.delete(batch.partition);
          }
          if (ends.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return { clicks, ids: ids.size, records };
}

async function main() {
  const redis = createRedis(redisUrl);
  const catalog = new Catalog(redis, `${id}:`);
  const kafka = new Kafka({
    clientId: "bench",
    brokers: stackEnv.KAFKA_BROKERS.split(","),
    logLevel: logLevel.NOTHING,
  });
  await ensureDatabase({ url: stackEnv.CLICKHOUSE_URL }, id);
  const ch = createClickHouse({ url: stackEnv.CLICKHOUSE_URL, database: id });
  try {
    await seed(catalog);
    const baselinePort = PORT_BASE;
    const redirectPort = PORT_BASE + 1;
    // busy-waits `workUs` µs per request (0: none), then answers a fixed 302
    const bare = (name, port, workUs) =>
      spawnNode(
        name,
        [
          "-e",
          `const ns = ${workUs * 1000}; require("node:http").createServer((q, s) => { const t = process.hrtime.bigint(); while (Number(process.hrtime.bigint() - t) < ns); s.writeHead(302, { Location: "https://shop.example.com/" }); s.end(); }).listen(${port}, "127.0.0.1", () => console.log('{"msg":"baseline_listening"}'));`,
        ],
        { env, readyEvent: "baseline_listening", onLine: logProblems(name) },
      );
    const baseline = bare("baseline", baselinePort, 0);
    await baseline.ready;
    const t0 = Date.now();
    const profile = process.env.BENCH_PROFILE_DIR
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [];
    // Extra node flags for the redirect on top of its deploy flags, to compare V8 settings in one session
    // (e.g. BENCH_REDIRECT_NODE_ARGS=--single-threaded-gc); the service's own env (CLICK_FLUSH_MS...) passes through.
    const extraNodeArgs = (process.env.BENCH_REDIRECT_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const redirect = spawnService("redirect", {
      env: { ...env, PORT: String(redirectPort), OPS_PORT: String(redirectPort + 100), HOST: "127.0.0.1" },
      nodeArgs: [...extraNodeArgs, ...profile],
      readyEvent: "link_cache_warmed",
      onLine: logProblems("redirect"),
    });
    const warmed = await redirect.ready;
    const warmRssMb = peakRssMb(redirect.child.pid);
    log(`redirect warmed ${warmed.links} links in ${Date.now() - t0} ms; peak RSS so far ${warmRssMb.toFixed(0)} MB`);

    const memoryNs = memoryProbeNs();
    log(`memory probe: ${memoryNs} ns per dependent random read`);
    wrk(baselinePort, { seconds: 2, connections: CONNECTIONS });
    wrk(redirectPort, { seconds: 2, connections: CONNECTIONS });
    const base = [];
    const ours = [];
    // CPU (user + system) per request of each server over its full-speed rounds: on this 2-vCPU machine the
    // redirect is bound by its one core, so its rate is about 1 / (CPU per request), and this figure moves less
    // from run to run than the rates do.
    const cpu = { base: 0, ours: 0 };
    const timed = (key, pid, port) => {
      const before = cpuMicros(pid);
      const r = wrk(port, { seconds: DURATION_S, connections: CONNECTIONS });
      cpu[key] += cpuMicros(pid) - before;
      return r;
    };
    for (let round = 0; round < ROUNDS; round++) {
      base.push(timed("base", baseline.child.pid, baselinePort));
      ours.push(timed("ours", redirect.child.pid, redirectPort));
      log(
        `round ${round + 1}: baseline ${base.at(-1).rps.toFixed(0)} req/s, redirect ${ours.at(-1).rps.toFixed(0)} req/s`,
      );
    }
    const best = (runs) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const baselineRps = best(base).rps;
    const rps = best(ours).rps;

    // Fixed rate: connections x (1000 / (pause + latency)) ~= RATE; calibrated with a short run first. The bare
    // server is then calibrated to the rate the redirect actually reached, so both p99s are taken at one rate.
    const pauseMs = 2;
    const calibrate = (port, target) => {
      const guess = Math.max(1, Math.round((target * (pauseMs + 0.3)) / 1000));
      const probe = wrk(port, { seconds: 3, connections: guess, delayMs: pauseMs });
      return Math.max(1, Math.round((guess * target) / probe.rps));
    };
    const connections = calibrate(redirectPort, RATE);
    const fixed = wrk(redirectPort, { seconds: DURATION_S, connections, delayMs: pauseMs });
    const baseConnections = calibrate(baselinePort, fixed.rps);
    const fixedBase = wrk(baselinePort, { seconds: DURATION_S, connections: baseConnections, delayMs: pauseMs });
    log(
      `fixed rate: redirect ${fixed.rps.toFixed(0)} req/s over ${connections} connections, p50 ${fixed.p50_ms} ms, p99 ${fixed.p99_ms} ms; bare server ${fixedBase.rps.toFixed(0)} req/s over ${baseConnections} connections, p99 ${fixedBase.p99_ms} ms`,
    );

    const bareWithWork = {};
    for (const [i, us] of WORK_US.entries()) {
      const server = bare(`baseline_${us}us`, PORT_BASE + 10 + i, us);
      await server.ready;
      const r = wrk(PORT_BASE + 10 + i, { seconds: DURATION_S, connections: CONNECTIONS });
      await server.stop();
      bareWithWork[us] = { rps: Math.round(r.rps), ratio: Number((r.rps / baselineRps).toFixed(3)) };
      log(
        `bare server with ${us} µs of work per request: ${bareWithWork[us].rps} req/s, ratio ${bareWithWork[us].ratio}`,
      );
    }

    const rssMb = peakRssMb(redirect.child.pid);
    const served =
      (await metric(redirectPort + 100, 'redirects_total{outcome="redirect"')) +
      (await metric(redirectPort + 100, 'redirects_total{outcome="bot_redirect"'));
    const notRedirected = await metric(redirectPort + 100, "redirects_total{outcome=");
    const baselineRssMb = peakRssMb(baseline.child.pid);
    const { code } = await redirect.stop();
    log(`redirect stopped (exit ${code}); ${served} redirects served of ${notRedirected} answered`);

    const onTopic = await kafkaClicks(kafka, env.TOPIC_CLICKS);
    const clicksKafka = onTopic.clicks;
    log(
      `clicks in Kafka: ${clicksKafka} (${onTopic.ids} distinct ids) in ${onTopic.records} records; starting the attribution worker to load ClickHouse`,
    );
    const attribution = spawnService("attribution", {
      env: { ...env, PORT: String(PORT_BASE + 2), HOST: "127.0.0.1", KAFKA_SESSION_TIMEOUT_MS: "60000" },
      onLine: logProblems("attribution"),
    });
    // A long session timeout: on a busy machine a batch of thousands of clicks can outlast the default and trigger
    // a rebalance loop that re-reads the same offsets without ever committing.
    attribution.ready.catch((err) => log(String(err)));
    let clicksClickhouse = 0;
    let attributionRssMb = 0;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      await sleep(2_000);
      attributionRssMb = Math.max(attributionRssMb, peakRssMb(attribution.child.pid));
      const rows = await ch
        .query("bench_clicks", sql`SELECT count() AS n FROM clicks_raw_v1 FINAL`, z.object({ n: z.coerce.number() }))
        .catch(() => [{ n: 0 }]);
      clicksClickhouse = Number(rows[0]?.n ?? 0);
      if (clicksClickhouse >= served) break;
      log(`clicks in ClickHouse so far: ${clicksClickhouse}`);
    }
    await attribution.stop();
    await baseline.stop();

    const figures = {
      ratio: Number((rps / baselineRps).toFixed(3)),
      rps: Math.round(rps),
      baseline_rps: Math.round(baselineRps),
      cpu_us_per_redirect: perRequest(cpu.ours, ours),
      cpu_us_per_baseline_request: perRequest(cpu.base, base),
      fixed_rate_rps: Math.round(fixed.rps),
      baseline_fixed_rate_rps: Math.round(fixedBase.rps),
      p50_ms: fixed.p50_ms,
      p99_ms: fixed.p99_ms,
      baseline_p99_ms: fixedBase.p99_ms,
      rss_mb: Math.round(rssMb),
      rss_after_warmup_mb: Math.round(warmRssMb),
      memory_probe_ns: memoryNs,
      baseline_rss_mb: Math.round(baselineRssMb),
      attribution_rss_mb: Math.round(attributionRssMb),
      links: LINKS,
      served,
      clicks_kafka: clicksKafka,
      click_ids_kafka: onTopic.ids,
      kafka_records: onTopic.records,
      clicks_clickhouse: clicksClickhouse,
      wrk_errors: [...base, ...ours, fixed].reduce((s, r) => s + r.errors + r.bad_status, 0),
      bare_with_work: bareWithWork,
    };
    console.log(
      `redirect ${figures.rps} req/s vs bare node:http ${figures.baseline_rps} req/s: ratio ${figures.ratio} (target >= 0.5)`,
    );
    console.log(
      `at ${figures.fixed_rate_rps} req/s: p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms; bare server at ${figures.baseline_fixed_rate_rps} req/s: p99 ${figures.baseline_p99_ms} ms (target: within 2x)`,
    );
    console.log(
      `peak RSS with ${LINKS} links: ${figures.rss_mb} MB (target <= 300 MB; ${figures.rss_after_warmup_mb} MB after the warm-up); bare server ${figures.baseline_rss_mb} MB, attribution ${figures.attribution_rss_mb} MB`,
    );
    console.log(
      `302s served ${served}, clicks in Kafka ${clicksKafka}, in ClickHouse ${clicksClickhouse} (target: all equal)`,
    );
    console.log(JSON.stringify(figures));
  } finally {
    killServiceProcesses();
    await ch.exec("drop_bench_database", sql`DROP DATABASE IF EXISTS ${ident(id)}`).catch(() => undefined);
    await ch.close();
    await redis.flushdb().catch(() => undefined);
    // Compact the append-only file: a million links in its history would make every later Redis restart slow.
    await redis.bgrewriteaof().catch(() => undefined);
    redis.disconnect();
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [env.TOPIC_CLICKS, env.TOPIC_POSTBACKS, env.TOPIC_DEAD_LETTERS] }))
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    rmSync(env.CLICK_SPOOL_DIR, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
