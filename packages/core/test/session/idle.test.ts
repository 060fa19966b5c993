import { describe, expect, it } from "vitest";
import { idleClose, LIMITS } from "../../src/index.ts";

const HOUR = 3600;
const at = (seconds: number) => Date.UTC(2026, 11, 1, 9) + seconds * 1000;

describe("an open session with no activity closes itself", () => {
  it("defaults to a day", () => {
    expect(LIMITS.defaultIdleCloseSeconds).toBe(24 * HOUR);
  });

  it("looks again when the idle period since the last event ends", () => {
    expect(idleClose({ lastEventAtMs: at(0), waitingCommands: 0, idleCloseSeconds: 24 * HOUR, nowMs: at(60) })).toEqual(
      { lookAgainAt: at(24 * HOUR) },
    );
  });

  it("closes once the whole period passed without an event, saying how long it was idle", () => {
    expect(
      idleClose({ lastEventAtMs: at(0), waitingCommands: 0, idleCloseSeconds: 24 * HOUR, nowMs: at(24 * HOUR) }),
    ).toEqual({ close: { reason: "idle", idleSeconds: 24 * HOUR, idleCloseSeconds: 24 * HOUR } });
    expect(idleClose({ lastEventAtMs: at(0), waitingCommands: 0, idleCloseSeconds: 60, nowMs: at(90) + 999 })).toEqual({
      close: { reason: "idle", idleSeconds: 90, idleCloseSeconds: 60 },
    });
  });

  it("never closes while a command is queued, awaiting approval or running: it looks again a period later", () => {
    expect(
      idleClose({ lastEventAtMs: at(0), waitingCommands: 1, idleCloseSeconds: 24 * HOUR, nowMs: at(30 * HOUR) }),
    ).toEqual({ lookAgainAt: at(54 * HOUR) });
  });
});
