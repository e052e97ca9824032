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

/**
 * Compare-and-set of a value with the sets listing it: KEYS[1] must still hold ARGV[1] ("" = absent); then it takes
 * ARGV[2], ARGV[3] leaves the first ARGV[4] sets of the remaining keys and joins the others, all in one step.
 */
const CAS_WITH_SETS = `
local cur = redis.call("GET", KEYS[1])
if (cur == false and ARGV[1] ~= "") or (cur ~= false and cur ~= ARGV[1]) then return 0 end
redis.call("SET", KEYS[1], ARGV[2])
local leave = tonumber(ARGV[4])
for i = 2, 1 + leave do redis.call("SREM", KEYS[i], ARGV[3]) end
for i = 2 + leave, #KEYS do redis.call("SADD", KEYS[i], ARGV[3]) end
return 1`;
type SetsCasRedis = Redis & { catalogCasWithSets(numKeys: number, ...args: string[]): Promise<number> };

/** Changes of one key from this process, queued so that only writers in other processes can make a round retry. */
const tailsOf = new WeakMap<Redis, Map<string, Promise<unknown>>>();
function queued<T>(redis: Redis, key: string, fn: () => Promise<T>): Promise<T> {
  const tails = tailsOf.get(redis) ?? new Map<string, Promise<unknown>>();
  tailsOf.set(redis, tails);
  const run = (tails.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  void tail.then(() => {
    if (tails.get(key) === tail) tails.delete(key);
  });
  return run;
}

/**
 * Read-modify-write of a JSON value and the sets listing it, on the shared connection: `change` sees the stored
 * value (undefined when absent) and returns the next one with the sets `member` leaves and joins (leaving first);
 * all of it is written in one compare-and-set step, retried when another process got there first.
 */
export function modifyWithSets<T>(
  redis: Redis,
  key: string,
  opts: {
    parse: (raw: string) => T;
    change: (current: T | undefined) => { next: T; leave: string[]; join: string[] };
    member: string;
    what: string;
    path: string;
  },
): Promise<T> {
  if (!("catalogCasWithSets" in redis)) redis.defineCommand("catalogCasWithSets", { lua: CAS_WITH_SETS });
  return queued(redis, key, async () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await redis.get(key);
      const { next, leave, join } = opts.change(raw === null ? undefined : opts.parse(raw));
      const keys = [key, ...leave, ...join];
      const args = [raw ?? "", JSON.stringify(next), opts.member, String(leave.length)];
      if ((await (redis as SetsCasRedis).catalogCasWithSets(keys.length, ...keys, ...args)) === 1) return next;
    }
    throw new AppError("conflict", `${opts.what} is being changed concurrently; retry`, {
      retryable: true,
      context: { path: opts.path },
    });
  });
}
