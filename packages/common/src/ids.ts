import { hash } from "node:crypto";

/** 32 hex characters of SHA-256 over the parts joined by a separator no part may contain unescaped. */
export function deterministicId(...parts: (string | number)[]): string {
  // one-shot hash of the joined parts: the same digest as updating part by part, without a Hash object per id
  return hash("sha256", parts.map((p) => `${String(p).length}:${p}|`).join(""), "hex").slice(0, 32);
}

/** The conversion id of one merchant order: every event of that order shares it (it is the Kafka key). */
export function conversionId(merchantId: number, orderId: string): string {
  return deterministicId("conversion", merchantId, orderId);
}
