import { randomBytes } from "node:crypto";
import type express from "express";

/**
 * JSON text where bigints are plain JSON numbers with every digit: figures past 2^53 stay exact on the wire (JSON
 * numbers have no size limit; a client that needs them exact parses them as such). Safe integers look as before.
 */
export function exactJson(body: unknown): string {
  // a fresh marker per call, so no string in the body can pose as one
  const mark = `int_${randomBytes(8).toString("hex")}:`;
  const text = JSON.stringify(body, (_k, v) => {
    if (typeof v !== "bigint") return v;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `${mark}${v}`;
  });
  return text.replace(new RegExp(`"${mark}(-?\\d+)"`, "g"), "$1");
}

export function sendExactJson(res: express.Response, body: unknown): void {
  res.type("application/json").send(exactJson(body));
}
