// A runtime's health report: the frame's schema, and how the server turns its ages into the machine card's times.
import { describe, expect, it } from "vitest";
import {
  BACKLOG_OLD_MS,
  backlogIsOld,
  HelloFrame,
  LIMITS,
  machineHealth,
  parseFrame,
  parseRuntimeFrame,
} from "../src/index.ts";

const report = {
  backlogFrames: 3,
  backlogBytes: 1_258_291,
  oldestAgeMs: 240_000,
  lastError: { ageMs: 60_000, message: "cannot write the outbox journal: ENOSPC" },
};
const parse = (frame: object) => parseRuntimeFrame(JSON.stringify(frame), LIMITS.runtimeFrameBytes);

describe("health frames", () => {
  it("carry the backlog and the last error", () => {
    expect(parse({ t: "health", ...report })).toEqual({ ok: true, frame: { t: "health", ...report } });
    const none = { t: "health", backlogFrames: 0, backlogBytes: 0, oldestAgeMs: null, lastError: null };
    expect(parse(none)).toEqual({ ok: true, frame: none });
  });

  it("are refused with the reason when malformed", () => {
    const cases: [object, string][] = [
      [{ t: "health", ...report, backlogFrames: -1 }, "backlogFrames: Too small: expected number to be >=0"],
      [
        { t: "health", ...report, oldestAgeMs: null },
        "oldestAgeMs: oldestAgeMs must be null exactly when no frame is waiting",
      ],
      [
        { t: "health", ...report, backlogFrames: 0, backlogBytes: 0 },
        "oldestAgeMs: oldestAgeMs must be null exactly when no frame is waiting",
      ],
      [
        { t: "health", ...report, lastError: { ageMs: 0, message: "" } },
        "lastError.message: Too small: expected string to have >=1 characters",
      ],
      [{ t: "health", backlogFrames: 1 }, "backlogBytes: Invalid input: expected number, received undefined"],
    ];
    for (const [frame, message] of cases) expect(parse(frame)).toEqual({ ok: false, code: "invalid_frame", message });
    expect(parseRuntimeFrame("{", LIMITS.runtimeFrameBytes)).toEqual({
      ok: false,
      code: "bad_frame",
      message: "frame is not valid JSON",
    });
  });

  it("leave the runtime's other frames to RuntimeFrame", () => {
    const started = parse({ t: "started" });
    expect(started).toMatchObject({ ok: false, code: "invalid_frame" });
    expect(parse({ t: "nope" })).toEqual({
      ok: false,
      code: "invalid_frame",
      message: "t: Invalid discriminator value. Expected 'hello' | 'started' | 'finished' | 'prestate'",
    });
  });

  it("ride in the hello, which older runtimes send without one", () => {
    const hello = {
      t: "hello",
      v: 1,
      machineId: "mch_aaaaaaaaaaaaaaaaaaaa",
      signature: "A".repeat(86),
      facts: { hostname: "fd-01", os: "linux", osVersion: "6.1", arch: "x64", runtimeVersion: "0.1.0" },
    };
    expect(parseFrame(HelloFrame, JSON.stringify(hello), 1 << 16)).toEqual({ ok: true, frame: hello });
    const withHealth = { ...hello, health: report };
    expect(parseFrame(HelloFrame, JSON.stringify(withHealth), 1 << 16)).toEqual({ ok: true, frame: withHealth });
    expect(
      parseFrame(HelloFrame, JSON.stringify({ ...hello, health: { ...report, oldestAgeMs: null } }), 1 << 16),
    ).toMatchObject({ ok: false, code: "invalid_frame" });
  });
});

describe("machine health", () => {
  const receivedAt = Date.parse("2026-12-01T10:00:00.000Z");

  it("turns the report's ages into times by the server's clock", () => {
    expect(machineHealth(report, receivedAt)).toEqual({
      backlogFrames: 3,
      backlogBytes: 1_258_291,
      oldestAt: "2026-12-01T09:56:00.000Z",
      lastError: { at: "2026-12-01T09:59:00.000Z", message: "cannot write the outbox journal: ENOSPC" },
      reportedAt: "2026-12-01T10:00:00.000Z",
    });
    expect(
      machineHealth({ backlogFrames: 0, backlogBytes: 0, oldestAgeMs: null, lastError: null }, receivedAt),
    ).toEqual({
      backlogFrames: 0,
      backlogBytes: 0,
      oldestAt: null,
      lastError: null,
      reportedAt: "2026-12-01T10:00:00.000Z",
    });
  });

  it("marks a connected machine whose oldest waiting output is older than two minutes", () => {
    const health = machineHealth(report, receivedAt);
    const oldest = Date.parse("2026-12-01T09:56:00.000Z");
    expect(backlogIsOld({ online: true, health }, oldest + BACKLOG_OLD_MS + 1)).toBe(true);
    expect(backlogIsOld({ online: true, health }, oldest + BACKLOG_OLD_MS)).toBe(false);
    expect(backlogIsOld({ online: false, health }, oldest + BACKLOG_OLD_MS + 1)).toBe(false);
    expect(backlogIsOld({ online: true, health: null }, receivedAt)).toBe(false);
    const drained = machineHealth({ ...report, backlogFrames: 0, backlogBytes: 0, oldestAgeMs: null }, receivedAt);
    expect(backlogIsOld({ online: true, health: drained }, receivedAt + 3_600_000)).toBe(false);
  });
});
