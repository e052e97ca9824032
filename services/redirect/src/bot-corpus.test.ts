import type { IncomingMessage } from "node:http";
import crawlers from "crawler-user-agents";
import desktop from "top-user-agents/desktop";
import mobile from "top-user-agents/mobile";
import { describe, expect, it } from "vitest";
import inApp from "../../../test/fixtures/user-agents/in-app-browsers.json";
import { botReason, isInAppBrowser } from "./client-info";

// Public corpora, shipped as pinned devDependencies: crawler-user-agents (crawler patterns with real instances) and
// top-user-agents (the most common browser user agents), plus the social apps' in-app browsers in test/fixtures.
const asRequest = (ua: string) => ({ method: "GET", headers: { "user-agent": ua } }) as unknown as IncomingMessage;
const flagged = (ua: string) => botReason(asRequest(ua)) !== undefined;

describe("bot flags over public user-agent corpora", () => {
  // The crawler list also names a few in-app browsers; a follower in them is a person, so they are not counted.
  const crawlerUas = crawlers.flatMap((c) => c.instances ?? []).filter((ua) => !isInAppBrowser(ua));
  const browserUas = [...desktop, ...mobile];

  it("states its false-negative and false-positive rates, within bounds", () => {
    const missed = crawlerUas.filter((ua) => !flagged(ua));
    const wronglyFlagged = browserUas.filter(flagged);
    const rates = {
      crawlers: crawlerUas.length,
      false_negatives: missed.length,
      false_negative_rate: Number((missed.length / crawlerUas.length).toFixed(4)),
      browsers: browserUas.length,
      false_positives: wronglyFlagged.length,
      false_positive_rate: Number((wronglyFlagged.length / browserUas.length).toFixed(4)),
    };
    console.log(`bot corpus: ${JSON.stringify(rates)}`);
    expect(crawlerUas.length).toBeGreaterThan(2_000);
    expect(browserUas.length).toBeGreaterThanOrEqual(100);
    expect(rates.false_positive_rate).toBe(0);
    expect(rates.false_negative_rate).toBeLessThanOrEqual(0.01);
  });

  it("never takes an in-app browser of a social app for a bot, and still flags those apps' crawlers", () => {
    expect(inApp.user_agents.length).toBeGreaterThanOrEqual(15);
    expect(inApp.user_agents.filter(flagged)).toEqual([]);
    for (const crawler of [
      "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
      "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
      "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
      "Twitterbot/1.0",
      "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
    ])
      expect(flagged(crawler), crawler).toBe(true);
  });
});
