// Child process of bench-postback.mjs: serves either the real postback service or a bare node:http baseline,
// and reports its port (and the bench merchant's secret) to the parent over IPC.
import http from "node:http";

const mode = process.argv[2];
// CPU time this process spent, so the bench can report cost per request independent of a busy machine.
process.on("message", (m) => {
  if (m === "cpu") process.send({ cpu: process.cpuUsage() });
});

if (mode === "baseline") {
  // The least a POST handler can do: read the body, answer 202 with a small JSON body; with BENCH_WORK_US, first
  // spin that many µs of CPU (what a given amount of work per request costs in throughput, measured the same way).
  const workNs = Number(process.env.BENCH_WORK_US ?? 0) * 1000;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const t = process.hrtime.bigint();
      while (Number(process.hrtime.bigint() - t) < workNs);
      const body = Buffer.concat(chunks);
      res.writeHead(202, { "content-type": "application/json" });
      res.end(JSON.stringify({ accepted: true, bytes: body.length }));
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else {
  const { connectCatalog } = await import("@aff/catalog");
  const { createLogger, Lifecycle } = await import("@aff/common");
  const { startPostback } = await import("../services/postback/dist/app.js");
  const { loadConfig } = await import("../services/postback/dist/config.js");
  const config = loadConfig(process.env);
  const log = createLogger("postback-bench", config.LOG_LEVEL);
  const lifecycle = new Lifecycle(log, 10_000);
  const catalog = connectCatalog(config, { log, lifecycle });
  const merchant = await catalog.createMerchant({ name: "Bench Shop" });
  const { server, ops } = await startPostback(config, { catalog, log, lifecycle });
  process.send({ port: server.port, ops_port: ops.port, merchant_id: merchant.id, secret: merchant.postback_secret });
  process.on("SIGTERM", async () => {
    // Leave nothing behind in the shared Redis: the bench merchant and its dedup/replay keys.
    const keys = await catalog.redis.keys(`${config.REDIS_PREFIX}*`);
    for (let i = 0; i < keys.length; i += 1000) await catalog.redis.del(...keys.slice(i, i + 1000));
    await lifecycle.stop("bench_done");
    process.exit(0);
  });
}
