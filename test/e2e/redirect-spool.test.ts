import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  catalogWriter,
  createCampaignFixture,
  createTestWorld,
  eventually,
  type TestWorld,
} from "../../packages/testing/src";
import { startRedirect } from "../../services/redirect/src/app";
import { loadConfig } from "../../services/redirect/src/config";
import { click } from "./helpers";

let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "redirect_spool");
});
afterAll(() => world?.close());

const metric = (text: string, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text)?.[1]);

describe("bounded click spool", () => {
  it("keeps answering 302 when Kafka is away and the spool is full, counting the clicks it drops", async () => {
    const { catalog } = world;
    const { link } = await createCampaignFixture(catalogWriter(catalog));
    const config = loadConfig({
      ...world.env,
      KAFKA_BROKERS: "127.0.0.1:9", // nobody listens: every click goes to the queue, then the spool
      CLICK_QUEUE_MAX: "100",
      CLICK_SPOOL_MAX_BYTES: String(64 * 1024),
      OPS_PORT: "0",
    });
    const redirect = await startRedirect(config, { catalog, log: world.log, lifecycle: world.lifecycle });
    const urls = { redirectUrl: `http://127.0.0.1:${redirect.server.port}` } as Parameters<typeof click>[0];
    for (let i = 0; i < 800; i++) expect((await click(urls, link.code)).status).toBe(302);

    const metrics = await eventually(
      async () => (await fetch(`http://127.0.0.1:${redirect.ops.port}/metrics`)).text(),
      (t) => metric(t, "clicks_dropped_total") > 0 && metric(t, "clicks_spooled_total") > 0,
    );
    expect(metric(metrics, "click_spool_bytes")).toBeLessThanOrEqual(64 * 1024);
    expect(metric(metrics, "clicks_spooled_total") + metric(metrics, "clicks_dropped_total")).toBeLessThanOrEqual(800);
  });
});
