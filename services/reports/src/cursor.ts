import type { StatementCursor } from "@aff/clickhouse";
import { z } from "zod";

/**
 * Statement pages are cut by keyset, not by offset: the cursor names the last line of the previous page (its event
 * time and entry id, the unique order of statement lines), so a page costs the same at any depth. It is opaque to
 * callers (base64url of JSON) and validated like any input before it reaches SQL.
 */
const Position = z.tuple([
  z.string().regex(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_.:-]+$/),
]);

export function encodeCursor(line: { event_time: string; entry_id: string }): string {
  return Buffer.from(JSON.stringify([line.event_time, line.entry_id])).toString("base64url");
}

export const Cursor = z
  .string()
  .max(400)
  .transform((v, ctx): StatementCursor => {
    let position: z.infer<typeof Position> | undefined;
    try {
      position = Position.parse(JSON.parse(Buffer.from(v, "base64url").toString("utf8")));
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a next_cursor returned by a previous page" });
      return z.NEVER;
    }
    return { eventTime: position[0], entryId: position[1] };
  });
