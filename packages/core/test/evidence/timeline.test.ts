import { describe, expect, it } from "vitest";
import { firstLines, formatDuration, type RedactedRecord, sessionTimeline } from "../../src/evidence/index.ts";
import { decodeRecord, encodeRecord, type RecordEvent } from "../../src/index.ts";
import { CONTACT, NAMES, PRINTER_CASE, TECHNICIAN } from "./printer-case.ts";

const records = PRINTER_CASE.map(decodeRecord);

describe("the SLA timeline", () => {
  it("tells the printer case as the accountant reads it", () => {
    const timeline = sessionTimeline(records, NAMES);
    expect(timeline.openedAt).toBe("2026-05-14T15:15:32.000Z");
    expect(timeline.closedAt).toBe("2026-05-14T15:17:45.000Z");
    expect(timeline.entries.map((e) => [e.ts.slice(11, 19), e.kind, e.who, e.text, e.milestone ?? null])).toEqual([
      ["15:15:32", "opened", "Dana Whitfield", "Session opened on FRONT-DESK-PC for ticket T-4471", null],
      [
        "15:15:40",
        "chat",
        "Dana Whitfield",
        "I see the print spooler is stuck. I need to restart it. Is that okay?",
        "First technician action",
      ],
      ["15:15:41", "command_requested", "Dana Whitfield", "Command requested: Restart-Service Spooler", null],
      ["15:15:41", "approval_asked", "Dana Whitfield", "Client approval asked for: Restart-Service Spooler", null],
      ["15:16:01", "approval_granted", "Mira Okafor", 'Approved by Mira Okafor ("Go ahead")', "Client approved"],
      ["15:16:05", "command_started", "the machine", "Started: Restart-Service Spooler", null],
      [
        "15:16:07",
        "command_finished",
        "the machine",
        "Restart-Service Spooler finished with exit code 0 after 2 s",
        null,
      ],
      ["15:16:29", "command_requested", "Dana Whitfield", "Command requested: Get-Service Spooler", null],
      ["15:16:30", "command_started", "the machine", "Started: Get-Service Spooler", null],
      [
        "15:16:30",
        "command_finished",
        "the machine",
        "Get-Service Spooler finished with exit code 0 after 800 ms",
        null,
      ],
      ["15:16:40", "chat", "Dana Whitfield", "Spooler is running. Please try printing.", null],
      ["15:17:12", "chat", "Mira Okafor", "It worked — test page printed. Merci, ça marche !", null],
      ["15:17:20", "note", "Dana Whitfield", "Internal note: Stuck job from the accounting PC; told Mira.", null],
      [
        "15:17:30",
        "verification",
        "Dana Whitfield",
        "Verified fixed: Test page printed at the front desk",
        "Verified fixed",
      ],
      ["15:17:45", "closed", "Dana Whitfield", "Session closed", null],
    ]);
    expect(timeline.durations).toEqual({
      toFirstActionMs: 8_120,
      waitingForClientMs: 20_000,
      toVerifiedFixMs: 118_000,
      openMs: 133_000,
    });
  });

  it("skips redacted lines: a withheld note leaves no trace but its place", () => {
    const withheld = records.map((r): RecordEvent | RedactedRecord =>
      r.type === "note.added" ? { seq: r.seq, redacted: "ab".repeat(32) } : r,
    );
    const timeline = sessionTimeline(withheld, NAMES);
    expect(timeline.entries.some((e) => e.kind === "note")).toBe(false);
    expect(timeline.entries).toHaveLength(14);
  });

  it("counts overlapping waits for the client once, and an unanswered one until the close", () => {
    const at = (s: number) => `2026-05-14T10:00:${String(s).padStart(2, "0")}.000Z`;
    const line = (seq: number, s: number, type: string, actor: string, data: Record<string, unknown>) =>
      decodeRecord(encodeRecord({ seq, ts: at(s), type, actor, data }));
    const timeline = sessionTimeline([
      line(1, 0, "session.opened", TECHNICIAN, { hostname: "PC" }),
      line(2, 10, "approval.requested", TECHNICIAN, { approvalId: "apr_a", command: "a" }),
      line(3, 15, "approval.requested", TECHNICIAN, { approvalId: "apr_b", command: "b" }),
      line(4, 20, "approval.granted", CONTACT, { approvalId: "apr_a" }),
      line(5, 30, "approval.declined", CONTACT, { approvalId: "apr_b", comment: "not now" }),
      line(6, 40, "approval.requested", TECHNICIAN, { approvalId: "apr_c", command: "c" }),
      line(7, 55, "session.closed", "system", { reason: "idle" }),
    ]);
    // 10–30 (a and b overlap) and 40–55 (c, never answered)
    expect(timeline.durations).toEqual({
      toFirstActionMs: null,
      waitingForClientMs: 35_000,
      toVerifiedFixMs: null,
      openMs: 55_000,
    });
    expect(timeline.entries.map((e) => e.text).slice(-3)).toEqual([
      'Declined by the client ("not now")',
      "Client approval asked for: c",
      "Session closed after being idle",
    ]);
  });

  it("writes durations as an accountant reads them", () => {
    expect([850, 8_120, 133_000, 3_725_000].map(formatDuration)).toEqual(["850 ms", "8 s", "2 min 13 s", "1 h 02 min"]);
  });
});

describe("printable output", () => {
  it("drops terminal escapes and control characters, keeps lines and Unicode, cuts long lines", () => {
    const text = "\u001b[32mOK\u001b[0m\tdone\r\nçà\u0007 va\r\n\n\n";
    expect(firstLines(text)).toEqual(["OK    done", "çà va"]);
    expect(firstLines("a\nb\nc", 2)).toEqual(["a", "b"]);
    expect(firstLines("x".repeat(10), 8, 5)).toEqual(["xxxx…"]);
  });
});
