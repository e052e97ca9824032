import { AppError } from "@aff/common";
import type { Redis } from "ioredis";

/** Compare-and-set: write ARGV[2] (and announce ARGV[4] on channel ARGV[3]) only if the key still holds ARGV[1]. */
const CAS = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2])
if ARGV[3] ~= "" then redis.call("PUBLISH", ARGV[3], ARGV[4]) end
return 1`;

type CasRedis = Redis & {
  catalogCas(key: string, expected: string, next: string, channel: string, message: string): Promise<number>;
};

/**
 * Read-modify-write of one JSON value without a connection of its own: read, change in JS, then write with a
 * compare-and-set script on the shared connection, and retry when another writer got there first. Changes of one key
 * from this process are queued, so only writers in other processes can make a round retry. WATCH needed a dedicated
 * connection per change (40 concurrent edits opened 40 connections); this needs none.
 */
export class Optimistic {
  private readonly redis: CasRedis;
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(redis: Redis) {
    if (!("catalogCas" in redis)) redis.defineCommand("catalogCas", { numberOfKeys: 1, lua: CAS });
    this.redis = redis as CasRedis;
  }

  /**
   * Applies `change` to the value at `key` (undefined when the key does not exist, and nothing is written).
   * `announce` publishes a message in the same atomic step as the write; `what` names the value in a conflict.
   */
  modify<T>(
    key: string,
    opts: {
      parse: (raw: string) => T;
      change: (value: T) => T;
      what: string;
      announce?: { channel: string; message: string };
    },
  ): Promise<T | undefined> {
    const { parse, change, announce } = opts;
    return this.queued(key, async () => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const raw = await this.redis.get(key);
        if (raw === null) return undefined;
        const next = change(parse(raw));
        const written = await this.redis.catalogCas(
          key,
          raw,
          JSON.stringify(next),
          announce?.channel ?? "",
          announce?.message ?? "",
        );
        if (written === 1) return next;
      }
      throw new AppError("conflict", `${opts.what} is being changed concurrently; retry`, { retryable: true });
    });
  }

  /** Runs `fn` after every earlier change of `key` from this process has finished. */
  private queued<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }
}
