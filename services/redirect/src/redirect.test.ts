import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import type { Link } from "@aff/catalog";
import type { ClickEvent } from "@aff/events";
import { afterEach, describe, expect, it } from "vitest";
import type { LinkCache } from "./link-cache";
import { LinkRecords } from "./link-record";
import { createRedirectHandler, type RedirectOutcome } from "./redirect";

const link: Link = {
  id: 9,
  code: "abc123",
  campaign_id: 2,
  influencer_id: 3,
  merchant_id: 1,
  destination: "https://shop.example.com/p/1",
  allowed_domains: ["shop.example.com"],
  click_param: "click_id",
  subs: {},
  fallback_url: "https://shop.example.com/",
  status: "active",
  created_at_ms: 0,
};
const BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const records = new LinkRecords();
const target = records.decode(records.encode(link));
const links = { peek: (code: string) => (code === link.code ? target : null) } as unknown as LinkCache;

let close: (() => void) | undefined;
afterEach(() => close?.());

/** The handler on a real server; GETs `/${code}` `n` times at once, each on its own connection. */
async function burst(code: string, n: number) {
  const clicks: ClickEvent[] = [];
  const outcomes: RedirectOutcome[] = [];
  /** click ids made durable by `persist` (the journal), and the 302s written before theirs was */
  const persisted = new Set<string>();
  const answeredFirst: string[] = [];
  const handler = createRedirectHandler({
    links,
    publisher: {
      publish: (e) => clicks.push(e),
      persist: () => {
        for (const c of clicks) persisted.add(c.click_id);
      },
    },
    clickIdSecret: "s".repeat(32),
    trustProxy: () => false,
    count: (o) => outcomes.push(o),
  });
  const server = createServer((req, res) => {
    const writeHead = res.writeHead.bind(res);
    res.writeHead = ((status: number, headers: string[]) => {
      const location = Array.isArray(headers) ? headers[headers.indexOf("Location") + 1] : undefined;
      const id = location && new URL(location).searchParams.get("click_id");
      if (id && !persisted.has(id)) answeredFirst.push(id);
      return writeHead(status, headers);
    }) as typeof res.writeHead;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  close = () => server.close();
  const { port } = server.address() as AddressInfo;
  const answers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<{ status: number; location?: string; cookie?: string }>((resolve, reject) => {
          const req = request(
            { port, host: "127.0.0.1", path: `/${code}`, agent: false, headers: { "user-agent": BROWSER } },
            (res) => {
              res.resume();
              res.on("end", () =>
                resolve({
                  status: res.statusCode ?? 0,
                  location: res.headers.location,
                  cookie: res.headers["set-cookie"]?.[0],
                }),
              );
            },
          );
          req.on("error", reject);
          req.end();
        }),
    ),
  );
  return { answers, clicks, outcomes, answeredFirst };
}

describe("redirect handler", () => {
  it("answers every request of a burst with its own 302 and click id, and records one click per 302", async () => {
    const { answers, clicks, outcomes, answeredFirst } = await burst(link.code, 40);
    expect(answers.every((a) => a.status === 302)).toBe(true);
    // each click was journaled before its 302 was written (a kill in between cannot lose an answered click)
    expect(answeredFirst).toEqual([]);
    const ids = answers.map((a) => new URL(a.location ?? "").searchParams.get("click_id"));
    expect(new Set(ids).size).toBe(40);
    for (const [i, a] of answers.entries()) expect(a.cookie).toContain(`aff_click=${ids[i]};`);
    expect(clicks.map((c) => c.click_id).sort()).toEqual([...ids].sort());
    expect(clicks.every((c) => c.link_id === link.id && c.influencer_id === link.influencer_id && !c.is_bot)).toBe(
      true,
    );
    expect(outcomes).toEqual(Array(40).fill("redirect"));
  });

  it("journals a lone request's click before its 302 too (answered at once, not with its turn)", async () => {
    const { answers, clicks, answeredFirst } = await burst(link.code, 1);
    expect(answers.map((a) => a.status)).toEqual([302]);
    expect(clicks).toHaveLength(1);
    expect(answeredFirst).toEqual([]);
  });

  it("records no click for an unknown code", async () => {
    const { answers, clicks, outcomes } = await burst("nope42", 3);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404]);
    expect(clicks).toEqual([]);
    expect(outcomes).toEqual(["not_found", "not_found", "not_found"]);
  });
});
