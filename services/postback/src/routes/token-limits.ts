import { ApiError } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import type { Caller } from "../authenticate";

/**
 * A token signs nothing and travels in URLs and logs, so by default it can only report sales: a leaked token must
 * not approve (start a holding period), reject, refund or adjust. A merchant whose system cannot sign may turn
 * `token_status_changes` on (admin API, postback-settings).
 */
export function refuseTokenStatusChange(caller: Caller, event: ConversionEvent): void {
  if (caller.method !== "token" || event.type === "sale" || caller.merchant.token_status_changes) return;
  throw new ApiError("forbidden", `a token postback may only report sales; sign a ${event.type} with X-Signature`, {
    issues: [
      {
        path: "type",
        message: "status changes by token are off for this merchant (postback-settings token_status_changes)",
        code: "token_sales_only",
      },
    ],
  });
}
