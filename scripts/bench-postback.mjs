// npm run bench:postback — signed postbacks acknowledged by Kafka per second, against a bare node:http POST
// handler measured the same way in the same run. Load generator: autocannon. Last line: one JSON object.
import { fork } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readStackEnv } from "@aff/testing";
import autocannon from "autocannon";
import { Kafka, logLevel } from "kafkajs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stackEnv = readStackEnv();
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
// The bare handler again with this many µs of CPU spun per request (`bare_with_work`; empty list: skipped).
const WORK_US = (process.env.BENCH_WORK_US ?? "20,40,80").split(",").filter(Boolean).map(Number);
const runId = `bench_${randomBytes(4).toString("hex")}`;
const topic = `${runId}.postbacks`;

function start(mode, env = {}) {
  const execArgv = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${path.join(root, ".stack/prof")}`] : [];
  const child = fork(path.join(root, "scripts/bench-postback-server.mjs"), [mode], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (info) => resolve({ child, info }));
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}
function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
}

/** Every request is a new sale with a fresh signature, as merchants send them (no replays, no duplicates). */
function signedRequests(merchantId, secret) {
  let n = 0;
  return [
    {
      method: "POST",
      path: "/v1/conversions",
      setupRequest: (req) => {
        n += 1;
        const body = JSON.stringify({
          order_id: `${runId}-${n}`,
          amount: 1000 + (n % 5000),
          currency: "USD",
          click_id: "bench",
        });
        const t = Math.floor(Date.now() / 1000);
        const mac = createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
        return {
          ...req,
          body,
          headers: {
            "content-type": "application/json",
            "x-merchant-id": String(merchantId),
            "x-signature": `t=${t},v1=${mac}`,
          },
        };
      },
    },
  ];
}

function cpuMicros(child) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m?.cpu) {
        child.off("message", on);
        resolve(m.cpu.user + m.cpu.system);
      }
    };
    child.on("message", on);
    child.send("cpu");
  });
}

/** Peak resident memory (VmHWM) of a process, in MB. */
const peakRssMb = (pid) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

/** CPU µs a stack process (kafka, redis; pid from .stack/run) has used, or NaN when it cannot be read. */
function stackCpuMicros(name) {
  try {
    // the pid file holds "<pid> <start time>"
    const pid = readFileSync(path.join(root, `.stack/run/${name}.pid`), "utf8")
      .trim()
      .split(" ")[0];
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime (fields 14 and 15 of stat), in clock ticks of 10 ms
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

async function load(port, requests, title) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests,
    title,
  });
  const ok = result["2xx"];
  const perS = ok / DURATION_S;
  console.error(
    `${title}: ${Math.round(perS)}/s 2xx (${ok} in ${DURATION_S}s), non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
  );
  return { perS, ok, non2xx: result.non2xx, errors: result.errors };
}

async function messagesOnTopic() {
  const kafka = new Kafka({
    brokers: stackEnv.KAFKA_BROKERS.split(","),
    clientId: `${runId}-count`,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const total = offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    return total;
  } finally {
    await admin.disconnect();
  }
}

const baseline = await start("baseline", { BENCH_WORK_US: "0" });
const postback = await start("postback", {
  KAFKA_BROKERS: stackEnv.KAFKA_BROKERS,
  REDIS_URL: stackEnv.REDIS_URL,
  REDIS_PREFIX: `${runId}:`,
  TOPIC_POSTBACKS: topic,
  PORT: "0",
  OPS_PORT: "0",
  LOG_LEVEL: "warn",
  SALE_DEDUP_TTL_S: "600",
  KAFKAJS_NO_PARTITIONER_WARNING: "1",
});
const { port, ops_port, merchant_id, secret } = postback.info;
const baselineRequests = signedRequests(1, "baseline-secret");
const postbackRequests = signedRequests(merchant_id, secret);
// Rounds alternate so both sides see the same (shared, noisy) machine; each side's figure is its mean.
const base = { perS: 0, ok: 0, cpu: 0 };
const acked = { perS: 0, ok: 0, non2xx: 0, cpu: 0 };
// What the broker and Redis spend on the postback's load: they share the machine with it.
const stackCpu = { kafka: 0, redis: 0 };
for (let round = 1; round <= ROUNDS; round++) {
  const b0 = await cpuMicros(baseline.child);
  const b = await load(baseline.info.port, baselineRequests, `round ${round}: baseline node:http POST`);
  base.cpu += (await cpuMicros(baseline.child)) - b0;
  const a0 = await cpuMicros(postback.child);
  const s0 = { kafka: stackCpuMicros("kafka"), redis: stackCpuMicros("redis") };
  const a = await load(port, postbackRequests, `round ${round}: postback signed sale, 202 after Kafka ack`);
  acked.cpu += (await cpuMicros(postback.child)) - a0;
  for (const name of ["kafka", "redis"]) stackCpu[name] += stackCpuMicros(name) - s0[name];
  base.perS += b.perS / ROUNDS;
  base.ok += b.ok;
  acked.perS += a.perS / ROUNDS;
  acked.ok += a.ok;
  acked.non2xx += a.non2xx;
}
const bareWithWork = {};
for (const us of WORK_US) {
  const server = await start("baseline", { BENCH_WORK_US: String(us) });
  const r = await load(server.info.port, baselineRequests, `bare handler with ${us} µs of work per request`);
  await stop(server.child);
  bareWithWork[us] = { per_s: Math.round(r.perS), ratio: Number((r.perS / base.perS).toFixed(4)) };
}
const metrics = await (await fetch(`http://127.0.0.1:${ops_port}/metrics`)).text();
const metric = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
const sends = metric("postback_kafka_send_messages_count");
console.error(
  `kafka sends: ${sends}, mean messages per send ${(metric("postback_kafka_send_messages_sum") / sends).toFixed(1)}`,
);
const postbackRssMb = peakRssMb(postback.child.pid);
const baselineRssMb = peakRssMb(baseline.child.pid);
console.error(`peak RSS: postback ${postbackRssMb.toFixed(0)} MB, baseline ${baselineRssMb.toFixed(0)} MB`);
await stop(baseline.child);
await stop(postback.child);

// Every 202 must be on the topic (a resend could add more, never fewer).
const onTopic = await messagesOnTopic();
console.error(`messages on the topic: ${onTopic} for ${acked.ok} acknowledged postbacks`);
if (onTopic < acked.ok) {
  console.error("FAIL: fewer messages on the topic than acknowledged postbacks");
  process.exitCode = 1;
}
const ratio = acked.perS / base.perS;
// Server CPU per answered request: what the service itself costs, whatever else the machine is doing.
const cpuPerAck = Math.round(acked.cpu / Math.max(1, acked.ok));
const cpuPerBase = Math.round(base.cpu / Math.max(1, base.ok));
console.error(
  `server CPU per request: postback ${cpuPerAck} µs, baseline ${cpuPerBase} µs (a core could ack ~${Math.round(1e6 / cpuPerAck)}/s)`,
);
// Cores the postback process used during its load: near 1, its event loop is the bound, not the machine.
const postbackCores = acked.cpu / (DURATION_S * ROUNDS * 1e6);
console.error(`postback process used ${postbackCores.toFixed(2)} cores during its load`);
const perAck = (us) => (Number.isFinite(us) ? Math.round(us / Math.max(1, acked.ok)) : null);
console.error(
  `stack CPU per acknowledged postback: kafka ${perAck(stackCpu.kafka)} µs, redis ${perAck(stackCpu.redis)} µs`,
);
console.error(`acked ${Math.round(acked.perS)}/s vs baseline ${Math.round(base.perS)}/s: ratio ${ratio.toFixed(3)}`);
console.log(
  JSON.stringify({
    ratio: Number(ratio.toFixed(4)),
    acked_per_s: Math.round(acked.perS),
    baseline_per_s: Math.round(base.perS),
    on_topic: onTopic,
    cpu_us_per_ack: cpuPerAck,
    cpu_us_per_baseline_request: cpuPerBase,
    postback_cpu_cores: Number(postbackCores.toFixed(2)),
    kafka_cpu_us_per_ack: perAck(stackCpu.kafka),
    redis_cpu_us_per_ack: perAck(stackCpu.redis),
    postback_rss_mb: Math.round(postbackRssMb),
    baseline_rss_mb: Math.round(baselineRssMb),
    acked: acked.ok,
    non2xx: acked.non2xx,
    connections: CONNECTIONS,
    duration_s: DURATION_S,
    rounds: ROUNDS,
    bare_with_work: bareWithWork,
  }),
);
