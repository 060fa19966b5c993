import { describe, expect, it } from "vitest";
import {
  type ClosePolicy,
  closeOutcome,
  outputOpening,
  reviewOutcome,
  type SessionFacts,
  sessionFigures,
  utf8,
  verdictRefusal,
  weekOf,
} from "../../src/index.ts";

describe("closeOutcome", () => {
  const open = { state: "open" as const, verdicts: 0, activeCommands: 0 };
  it("follows the policy: none closes, verdict and review need a verdict, review sends for review", () => {
    const to = (policy: ClosePolicy, verdicts: number) => closeOutcome({ ...open, policy, verdicts });
    expect(to("none", 0)).toEqual({ to: "closed" });
    expect(to("verdict", 0)).toMatchObject({ refused: { status: 409, code: "verification_required" } });
    expect(to("review", 0)).toMatchObject({ refused: { status: 409, code: "verification_required" } });
    expect(to("verdict", 1)).toEqual({ to: "closed" });
    expect(to("review", 2)).toEqual({ to: "review_pending" });
  });
  it("refuses a session already closed, awaiting review, or with commands waiting (before the verdict rule)", () => {
    expect(closeOutcome({ ...open, state: "closed", policy: "none" })).toMatchObject({
      refused: { code: "session_closed" },
    });
    expect(closeOutcome({ ...open, state: "review_pending", policy: "review", verdicts: 1 })).toMatchObject({
      refused: { code: "review_pending" },
    });
    expect(closeOutcome({ ...open, policy: "review", activeCommands: 1 })).toEqual({
      refused: {
        status: 409,
        code: "commands_active",
        message: "1 command(s) still queued or running; cancel them first",
      },
    });
  });
});

describe("reviewOutcome", () => {
  const pending = { state: "review_pending" as const, holderId: "usr_t", reviewerId: "usr_d" };
  it("accept closes, return reopens; only a pending session, never by its holder", () => {
    expect(reviewOutcome({ ...pending, decision: "accept" })).toEqual({ to: "closed" });
    expect(reviewOutcome({ ...pending, decision: "return" })).toEqual({ to: "open" });
    expect(reviewOutcome({ ...pending, state: "open", decision: "accept" })).toMatchObject({
      refused: { status: 409, code: "not_pending" },
    });
    expect(reviewOutcome({ ...pending, reviewerId: "usr_t", decision: "accept" })).toMatchObject({
      refused: { status: 403, code: "own_session" },
    });
  });
});

describe("verdictRefusal", () => {
  it("needs finished commands of this session, in an open session", () => {
    const done = { state: "finished" };
    expect(verdictRefusal("open", { baseline: done, verify: undefined })).toBeNull();
    expect(verdictRefusal("open", { baseline: done, verify: done })).toBeNull();
    expect(verdictRefusal("open", { baseline: null, verify: done })).toMatchObject({ code: "unknown_command" });
    expect(verdictRefusal("open", { baseline: done, verify: { state: "timed_out" } })).toEqual({
      status: 422,
      code: "command_not_finished",
      message: "the verify command is timed_out: a verdict compares commands that finished",
    });
    expect(verdictRefusal("review_pending", { baseline: done, verify: undefined })).toMatchObject({
      code: "review_pending",
    });
    expect(verdictRefusal("closed", { baseline: done, verify: undefined })).toMatchObject({ code: "session_closed" });
  });
});

describe("outputOpening", () => {
  it("keeps the opening lines of an output, CRLF as LF, and says when there is more", () => {
    expect(outputOpening(utf8("Name  Status\r\nSpooler  Error\r\n"), 30)).toEqual({
      firstLines: "Name  Status\nSpooler  Error",
      truncated: false,
    });
    const many = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    expect(outputOpening(utf8(many), many.length)).toEqual({
      firstLines: Array.from({ length: 12 }, (_, i) => `line ${i}`).join("\n"),
      truncated: true,
    });
    expect(outputOpening(utf8("ok\n"), 1_000_000)).toEqual({ firstLines: "ok", truncated: true });
    expect(outputOpening(new Uint8Array([0xff, 0x41]), 2)).toEqual({ firstLines: "\uFFFDA", truncated: false });
  });
});

describe("sessionFigures", () => {
  const DAY = 24 * 3600_000;
  const at = (day: number, minutes = 0) => new Date(Date.UTC(2026, 10, 2) + day * DAY + minutes * 60_000).toISOString();
  const s = (id: string, fields: Partial<SessionFacts>): SessionFacts => ({
    id,
    machineId: "mch_a",
    clientId: "cli_x",
    technicianId: "usr_t",
    state: "closed",
    openedAt: at(0),
    closedAt: at(0, 30),
    lastVerdict: "fixed",
    returns: 0,
    ...fields,
  });
  // 2 Nov 2026 is a Monday. Machine A: closed on day 0, called back on day 3 (within 7 days); the callback closes
  // and stays fixed (its next session, day 12, is 9 days later: outside). Machine B: closed, returned once, no
  // callback. Machine C: still open. Machine D: a session of another technician in the second week, never verified.
  const sessions = [
    s("a1", { openedAt: at(0), closedAt: at(0, 30) }),
    s("a2", { openedAt: at(3), closedAt: at(3, 90), lastVerdict: "unverifiable" }),
    s("a3", { openedAt: at(12, 5), closedAt: at(12, 15) }),
    s("b1", { machineId: "mch_b", clientId: "cli_y", openedAt: at(1), closedAt: at(1, 60), returns: 1 }),
    s("c1", { machineId: "mch_c", state: "open", openedAt: at(2), closedAt: null, lastVerdict: null }),
    s("d1", {
      machineId: "mch_d",
      technicianId: "usr_u",
      openedAt: at(8),
      closedAt: at(8, 10),
      lastVerdict: "not_fixed",
    }),
  ];
  const period = { fromMs: Date.parse(at(0)), toMs: Date.parse(at(14)), callbackDays: 7 };

  it("by week: counts, the callback within the window only, rates, first-contact resolution and the median", () => {
    expect(sessionFigures(sessions, { ...period, groupBy: "week" })).toEqual([
      {
        key: "2026-11-02",
        sessions: 4,
        closed: 3,
        verified: 2,
        callbacks: 1,
        verificationRate: 2 / 3,
        callbackRate: 1 / 3,
        firstContactResolution: 1 / 3,
        medianMinutesToClose: 60,
      },
      {
        key: "2026-11-09",
        sessions: 2,
        closed: 2,
        verified: 1,
        callbacks: 0,
        verificationRate: 0.5,
        callbackRate: 0,
        firstContactResolution: 1,
        medianMinutesToClose: 10,
      },
    ]);
  });

  it("by technician and by client; a callback is found whoever opened it, and only sessions opened in the period count", () => {
    expect(
      sessionFigures(sessions, { ...period, groupBy: "technician" }).map((r) => [r.key, r.sessions, r.callbacks]),
    ).toEqual([
      ["usr_t", 5, 1],
      ["usr_u", 1, 0],
    ]);
    expect(
      sessionFigures(sessions, { ...period, groupBy: "client" }).map((r) => [r.key, r.sessions, r.closed, r.callbacks]),
    ).toEqual([
      ["cli_x", 5, 4, 1],
      ["cli_y", 1, 1, 0],
    ]);
    // The first day only: a1 is called back by a2, which lies outside the period but still counts as its callback.
    const first = sessionFigures(sessions, { ...period, toMs: Date.parse(at(1)), groupBy: "week" });
    expect(first).toMatchObject([{ sessions: 1, closed: 1, callbacks: 1, callbackRate: 1, firstContactResolution: 0 }]);
    // A 10-day window makes a3 a callback of a2 as well.
    expect(sessionFigures(sessions, { ...period, callbackDays: 10, groupBy: "client" })[0]).toMatchObject({
      key: "cli_x",
      callbacks: 2,
    });
    // No closed session: rates and the median are unknown, not zero.
    expect(sessionFigures([sessions[4] as SessionFacts], { ...period, groupBy: "week" })).toEqual([
      {
        key: "2026-11-02",
        sessions: 1,
        closed: 0,
        verified: 0,
        callbacks: 0,
        verificationRate: null,
        callbackRate: null,
        firstContactResolution: null,
        medianMinutesToClose: null,
      },
    ]);
  });

  it("weeks start on Monday, UTC", () => {
    expect(weekOf("2026-11-08T23:59:59.999Z")).toBe("2026-11-02");
    expect(weekOf("2026-11-09T00:00:00.000Z")).toBe("2026-11-09");
    expect(weekOf("2027-01-01T12:00:00.000Z")).toBe("2026-12-28");
  });
});
