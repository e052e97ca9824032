import { createHash } from "node:crypto";

/** 32 hex characters of SHA-256 over the parts joined by a separator no part may contain unescaped. */
export function deterministicId(...parts: (string | number)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(`${String(p).length}:${p}|`);
  return h.digest("hex").slice(0, 32);
}

/** The conversion id of one merchant order: every event of that order shares it (it is the Kafka key). */
export function conversionId(merchantId: number, orderId: string): string {
  return deterministicId("conversion", merchantId, orderId);
}
