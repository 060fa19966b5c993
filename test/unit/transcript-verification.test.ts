// The console's transcript model links a verification to its baseline ("verifies #1", "Compare with #2") and knows
// which verification ran as a scheduled re-check.
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../packages/console/src/api.ts";
import { Transcript } from "../../packages/console/src/transcript.ts";

let seq = 0;
function ev(type: string, data: Record<string, unknown>, actor = "user:usr_a"): SessionEvent {
  seq++;
  return { seq, ts: new Date(seq * 1000).toISOString(), type, actor, data, hash: seq.toString(16).padStart(64, "0") };
}
const requested = (commandId: string, extra: Record<string, unknown> = {}) =>
  ev("command.requested", { commandId, command: "Get-Printer", shell: "powershell", ...extra });

describe("verifications in the transcript", () => {
  it("numbers commands, links each verification to its baseline, and marks a scheduled re-check", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("session.opened", { hostname: "pc-1" }));
    t.apply(requested("cmd_base"));
    t.apply(ev("command.finished", { commandId: "cmd_base", state: "finished", exitCode: 1 }, "machine:mch_x"));
    t.apply(requested("cmd_now", { verifies: "cmd_base" }));
    t.apply(
      ev("check.scheduled", { commandId: "cmd_base", at: "2026-12-02T09:00:00.000Z", checkCommandId: "cmd_later" }),
    );
    const version = (t.commands.get("cmd_base")?.version ?? 0) as number;
    t.apply(requested("cmd_later", { verifies: "cmd_base" }));

    const [base, now, later] = ["cmd_base", "cmd_now", "cmd_later"].map((id) => t.commands.get(id));
    expect([base?.number, now?.number, later?.number]).toEqual([1, 2, 3]);
    expect(base).toMatchObject({ verifiedBy: ["cmd_now", "cmd_later"] });
    expect(base?.version).toBeGreaterThan(version); // its block re-renders to offer "Compare with #3"
    expect(now).toMatchObject({ verifies: "cmd_base", recheckAt: undefined });
    expect(later).toMatchObject({ verifies: "cmd_base", recheckAt: "2026-12-02T09:00:00.000Z" });
    expect(t.items.find((i) => i.kind === "line" && i.event.type === "check.scheduled")).toBeDefined();
  });
});
