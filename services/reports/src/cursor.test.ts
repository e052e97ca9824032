import { describe, expect, it } from "vitest";
import { Cursor, encodeCursor } from "./cursor";

describe("statement cursor", () => {
  it("round-trips the last line's position", () => {
    const c = encodeCursor({ event_time: "2026-03-10 12:00:00", entry_id: "ab12cd" });
    expect(Cursor.parse(c)).toEqual({ eventTime: "2026-03-10 12:00:00", entryId: "ab12cd" });
  });

  it("refuses anything that is not a cursor it issued", () => {
    const forged = Buffer.from(JSON.stringify(["2026-03-10 12:00:00", "x' OR 1=1"])).toString("base64url");
    for (const v of ["", "not-base64!", forged, Buffer.from("[1,2]").toString("base64url")])
      expect(Cursor.safeParse(v).success, v).toBe(false);
  });
});
