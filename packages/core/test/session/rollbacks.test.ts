import { describe, expect, it } from "vitest";
import { rollbackApprovalSummary, rollbackRefusal, rollbackStands, rollbackSummary } from "../../src/index.ts";

// The rules around a rollback (issue 12): what can be rolled back, what the contact approves, which earlier rollback
// stands in the way of another.

describe("rollbackApprovalSummary", () => {
  it("names when the change was made (UTC, as the record), by whom, then what the rollback does", () => {
    expect(
      rollbackApprovalSummary(
        { startedAt: "2026-06-03T15:14:59.999Z", technicianName: "Alice Tech" },
        "Set the registry value DisableRestart under HKLM\\Software\\PrintSpooler back to 0",
      ),
    ).toBe(
      "Reverse a change made on 3 June at 15:14 by Alice Tech: set the registry value DisableRestart under HKLM\\Software\\PrintSpooler back to 0",
    );
    expect(
      rollbackApprovalSummary({ startedAt: "2026-12-31T00:05:00.000Z", technicianName: "Bo" }, "Run: frob\nx"),
    ).toBe("Reverse a change made on 31 December at 00:05 by Bo: Run: frob");
  });
});

describe("rollbackSummary", () => {
  const proposed = {
    command: "sc start Spooler",
    shell: "cmd" as const,
    summary: "Start the Print Spooler service again",
  };
  it("is the proposed reverse's own summary when the command is that reverse", () => {
    expect(rollbackSummary("cmd", "sc start Spooler", proposed)).toBe("Start the Print Spooler service again");
  });
  it("describes an edited or hand-written command afresh", () => {
    expect(rollbackSummary("cmd", "sc stop Spooler", proposed)).toBe("Stop the Print Spooler service");
    expect(rollbackSummary("powershell", "sc start Spooler", proposed)).not.toBe(proposed.summary);
    expect(rollbackSummary("cmd", "sc stop Spooler", null)).toBe("Stop the Print Spooler service");
  });
});

describe("rollbackRefusal", () => {
  const ran = {
    classification: "change" as const,
    startedAt: "2026-06-03T15:14:00.000Z",
    finished: { seq: 5, hash: "ab" },
  };
  it("lets a change that ran and ended be rolled back, whatever its exit", () => {
    for (const state of ["finished", "timed_out", "interrupted", "cancelled"] as const)
      expect(rollbackRefusal({ ...ran, state })).toBeNull();
  });
  it("refuses a read, a change still running or waiting, and one that never ran", () => {
    expect(rollbackRefusal({ ...ran, classification: "read", state: "finished" })?.code).toBe("not_a_change");
    expect(rollbackRefusal({ ...ran, finished: null, state: "running" })).toEqual({
      code: "not_finished",
      message: "this command is running: roll it back once it ends",
    });
    expect(rollbackRefusal({ ...ran, finished: null, state: "awaiting_approval" })?.message).toBe(
      "this command is awaiting approval: roll it back once it ends",
    );
    expect(rollbackRefusal({ ...ran, startedAt: null, state: "declined" })?.code).toBe("never_ran");
  });
});

describe("rollbackStands", () => {
  it("a rollback waiting, running or done stands; one declined, expired or cancelled before it ran does not", () => {
    for (const state of ["awaiting_approval", "queued", "running", "finished", "timed_out", "interrupted"] as const)
      expect(rollbackStands(state, state !== "awaiting_approval" && state !== "queued")).toBe(true);
    for (const state of ["declined", "failed", "cancelled"] as const) expect(rollbackStands(state, false)).toBe(false);
    expect(rollbackStands("cancelled", true)).toBe(true);
  });
});
