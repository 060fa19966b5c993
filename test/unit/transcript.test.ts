// The console's transcript model, in plain Node: events in, command blocks and lines out.
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../packages/console/src/api.ts";
import {
  clockTime,
  controlSymbol,
  MAX_KEPT_CHARS,
  shownChunks,
  splitControls,
  Transcript,
  visibleOutput,
} from "../../packages/console/src/transcript.ts";

let seq = 0;
function ev(type: string, data: Record<string, unknown>, actor = "machine:mch_x"): SessionEvent {
  seq++;
  return { seq, ts: new Date(seq * 1000).toISOString(), type, actor, data, hash: seq.toString(16).padStart(64, "0") };
}
const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");
const out = (commandId: string, stream: "stdout" | "stderr", bytes: Uint8Array | string, offset = 0) =>
  ev("command.output", { commandId, stream, offset, data: b64(bytes) });

describe("Transcript", () => {
  it("moves past a line withheld from its reader (a contact's redacted note) without showing anything", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("session.opened", { hostname: "pc-1" }, "user:usr_a"));
    const redacted = { seq: 2, redacted: "ab".repeat(32), hash: "cd".repeat(32) } as unknown as SessionEvent;
    seq = 2;
    expect(t.apply(redacted)).toBe(true);
    t.apply(ev("chat.message", { text: "Thanks" }, "contact:usr_c"));
    expect(t.items.map((i) => i.seq)).toEqual([1, 3]);
    expect(t.lastSeq).toBe(3);
    expect(t.apply(redacted)).toBe(false); // already past it
  });

  it("builds a command block through its states and keeps streams interleaved in order", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("session.opened", { hostname: "pc-1" }, "user:usr_a"));
    t.apply(
      ev("command.requested", { commandId: "c1", command: "ls", shell: "bash", requestedBy: "usr_a" }, "user:usr_a"),
    );
    const cmd = t.commands.get("c1");
    expect(cmd?.state).toBe("queued");
    expect(cmd?.actor).toBe("user:usr_a");
    t.apply(ev("command.started", { commandId: "c1", pid: 42, user: "root", cwd: "/", env: { A: "1" } }));
    expect(cmd?.state).toBe("running");
    expect(cmd?.context?.env).toEqual({ A: "1" });
    t.apply(out("c1", "stdout", "a\n"));
    t.apply(out("c1", "stderr", "e\n"));
    t.apply(out("c1", "stdout", "b\n", 2));
    t.apply(ev("command.finished", { commandId: "c1", state: "finished", exitCode: 0, durationMs: 1020 }));
    expect(cmd?.chunks.map((c) => [c.stream, c.text])).toEqual([
      ["stdout", "a\n"],
      ["stderr", "e\n"],
      ["stdout", "b\n"],
    ]);
    // One stream alone, still in record order.
    const shown = (filter: "all" | "stdout" | "stderr") =>
      shownChunks(cmd as NonNullable<typeof cmd>, filter).map((c) => [c.stream, c.text]);
    expect(shown("stderr")).toEqual([["stderr", "e\n"]]);
    expect(shown("stdout")).toEqual([
      ["stdout", "a\n"],
      ["stdout", "b\n"],
    ]);
    expect(shown("all")).toEqual(cmd?.chunks.map((c) => [c.stream, c.text]));
    expect(cmd?.state).toBe("finished");
    expect(cmd?.result?.exitCode).toBe(0);
    expect(t.items.map((i) => i.kind)).toEqual(["line", "command"]);
    expect(t.lastSeq).toBe(7);
    expect(t.headHash).toBe((7).toString(16).padStart(64, "0"));
  });

  it("ignores events it already has (a resumed socket never doubles output)", () => {
    seq = 0;
    const t = new Transcript();
    const events = [
      ev("command.requested", { commandId: "c1", command: "x", shell: "sh" }),
      ev("command.started", { commandId: "c1" }),
      out("c1", "stdout", "once\n"),
    ];
    for (const e of events) expect(t.apply(e)).toBe(true);
    for (const e of events) expect(t.apply(e)).toBe(false);
    expect(visibleOutput(t.commands.get("c1") as never)).toBe("once\n");
  });

  it("decodes UTF-8 split across chunks per stream", () => {
    seq = 0;
    const t = new Transcript();
    const bytes = Buffer.from("€ and 😀\n");
    t.apply(ev("command.requested", { commandId: "c1", command: "x", shell: "bash" }));
    t.apply(out("c1", "stdout", bytes.subarray(0, 1)));
    t.apply(out("c1", "stderr", "err\n"));
    t.apply(out("c1", "stdout", bytes.subarray(1, 9), 1));
    t.apply(out("c1", "stdout", bytes.subarray(9), 9));
    t.apply(ev("command.finished", { commandId: "c1", state: "finished", exitCode: 0 }));
    expect(visibleOutput(t.commands.get("c1") as never)).toBe("err\n€ and 😀\n");
  });

  it("flushes an incomplete trailing character when the command finishes", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("command.requested", { commandId: "c1", command: "x", shell: "bash" }));
    t.apply(out("c1", "stdout", Uint8Array.of(0x61, 0xe2, 0x82)));
    t.apply(ev("command.finished", { commandId: "c1", state: "finished", exitCode: 0 }));
    expect(visibleOutput(t.commands.get("c1") as never)).toBe("a\uFFFD");
  });

  it("keeps only the last MAX_KEPT_CHARS of a huge output in view", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("command.requested", { commandId: "c1", command: "yes", shell: "bash" }));
    const block = "y\n".repeat(32 * 1024);
    let offset = 0;
    for (let i = 0; i < 10; i++) {
      t.apply(out("c1", "stdout", block, offset));
      offset += block.length;
    }
    t.apply(out("c1", "stdout", "tail\n", offset));
    const cmd = t.commands.get("c1");
    expect(cmd?.keptChars).toBe(MAX_KEPT_CHARS);
    expect(visibleOutput(cmd as never).length).toBe(MAX_KEPT_CHARS);
    expect(visibleOutput(cmd as never).endsWith("y\ntail\n")).toBe(true);
    expect(cmd?.hiddenChars).toBe(offset + 5 - MAX_KEPT_CHARS);
  });

  it("marks control characters but leaves tabs and newlines alone", () => {
    expect(splitControls("a\u0000b\tc\n\u001b[0m")).toEqual([
      "a",
      { control: "\u0000" },
      "b\tc\n",
      { control: "\u001b" },
      "[0m",
    ]);
    expect(controlSymbol("\u0000")).toBe("\\0");
    expect(controlSymbol("\u001b")).toBe("\\x1b");
  });

  it("tracks approvals and session closing", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("command.requested", { commandId: "c1", command: "rm x", shell: "bash" }));
    t.apply(ev("approval.requested", { commandId: "c1" }, "system"));
    expect(t.commands.get("c1")?.state).toBe("awaiting_approval");
    t.apply(ev("approval.declined", { commandId: "c1" }, "contact:ct_1"));
    expect(t.commands.get("c1")?.state).toBe("declined");
    t.apply(ev("session.closed", {}, "user:usr_a"));
    expect(t.sessionState).toBe("closed");
  });

  it("folds an approval into its command block, with who decided, and maps folded events to the block", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("session.opened", { hostname: "pc-1", technicianId: "usr_a" }, "user:usr_a"));
    t.apply(
      ev(
        "command.requested",
        { commandId: "c1", command: "touch x", shell: "sh", classification: "change", approvalRequired: true },
        "user:usr_a",
      ),
    );
    t.apply(
      ev(
        "approval.requested",
        {
          approvalId: "apr_1",
          commandId: "c1",
          summary: "Create or update the file x",
          changes: [{ kind: "change", text: "Create or update the file x" }, { kind: "other" }, "Run: x"],
          expiresAt: "2030-01-01T00:00:00Z",
        },
        "user:usr_a",
      ),
    );
    const cmd = t.commands.get("c1");
    expect(cmd?.state).toBe("awaiting_approval");
    expect(cmd?.classification).toBe("change");
    expect(cmd?.approval).toMatchObject({
      id: "apr_1",
      state: "pending",
      seq: 3,
      summary: "Create or update the file x",
      // what the contact was asked to approve; anything not shaped as a change line is left out
      changes: [{ kind: "change", text: "Create or update the file x" }],
    });
    t.apply(
      ev(
        "approval.granted",
        { approvalId: "apr_1", commandId: "c1", contactName: "Carla", channel: "portal", comment: "Go ahead" },
        "contact:usr_c",
      ),
    );
    expect(cmd?.state).toBe("queued");
    expect(cmd?.approval).toMatchObject({
      state: "granted",
      decisionSeq: 4,
      contactName: "Carla",
      comment: "Go ahead",
    });
    t.apply(ev("command.started", { commandId: "c1", pid: 1 }));
    t.apply(out("c1", "stdout", "done\n"));
    t.apply(ev("command.finished", { commandId: "c1", state: "finished", exitCode: 0 }));
    // Only the session line and the block: the approval events live inside the block.
    expect(t.items.map((i) => i.kind)).toEqual(["line", "command"]);
    for (const s of [2, 3, 4, 5, 6, 7]) expect(t.itemSeqOf(s)).toBe(2);
    expect(t.itemSeqOf(1)).toBe(1);
    expect(t.itemSeqOf(99)).toBeNull();

    t.apply(
      ev("session.assigned", { from: "usr_a", to: "usr_b", toName: "Bea", byName: "Al", note: null }, "user:usr_a"),
    );
    expect(t.technicianId).toBe("usr_b");
    expect(t.technicianName).toBe("Bea");
    t.apply(ev("participant.joined", { name: "Carla" }, "contact:usr_c"));
    t.apply(ev("participant.left", { name: "Carla" }, "contact:usr_c"));
    expect(t.presence.map((p) => p.joined)).toEqual([true, false]);
  });

  it("folds watchers coming and going next to each other into one item, each event still in it", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("session.opened", { hostname: "pc-1" }, "user:usr_a"));
    t.apply(ev("participant.joined", { name: "Al" }, "user:usr_a"));
    t.apply(ev("participant.joined", { name: "Carla" }, "contact:usr_c"));
    t.apply(ev("participant.left", { name: "Carla" }, "contact:usr_c"));
    t.apply(ev("chat.message", { text: "hi" }, "user:usr_a"));
    t.apply(ev("participant.left", { name: "Al" }, "user:usr_a"));
    expect(t.items.map((i) => [i.kind, i.seq])).toEqual([
      ["line", 1],
      ["presence", 2],
      ["line", 5],
      ["presence", 6],
    ]);
    const fold = t.items[1];
    expect(fold?.kind === "presence" && fold.events.map((e) => [e.seq, e.type])).toEqual([
      [2, "participant.joined"],
      [3, "participant.joined"],
      [4, "participant.left"],
    ]);
    expect(fold?.kind === "presence" && fold.version).toBe(2);
    for (const s of [2, 3, 4]) expect(t.itemSeqOf(s)).toBe(2);
    expect(t.itemSeqOf(6)).toBe(6);
    expect(t.presence.map((p) => p.seq)).toEqual([2, 3, 4, 6]);
  });

  it("marks an expired approval and a declined command", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("command.requested", { commandId: "c1", command: "rm x", shell: "sh" }, "user:usr_a"));
    t.apply(ev("approval.requested", { approvalId: "apr_1", commandId: "c1" }, "user:usr_a"));
    t.apply(ev("approval.expired", { approvalId: "apr_1", commandId: "c1" }, "system"));
    expect(t.commands.get("c1")?.approval?.state).toBe("expired");
    t.apply(ev("command.requested", { commandId: "c2", command: "rm y", shell: "sh" }, "user:usr_a"));
    t.apply(ev("approval.requested", { approvalId: "apr_2", commandId: "c2" }, "user:usr_a"));
    t.apply(ev("approval.declined", { approvalId: "apr_2", commandId: "c2", contactName: "Carla" }, "contact:usr_c"));
    expect(t.commands.get("c2")?.state).toBe("declined");
    expect(t.commands.get("c2")?.approval?.state).toBe("declined");
  });
});

describe("times", () => {
  const now = new Date(2026, 11, 1, 15, 0, 0).getTime(); // 1 Dec 2026, 15:00 local time
  it("show the clock alone today, and carry their date on any other day", () => {
    const today = new Date(2026, 11, 1, 9, 5, 7).toISOString();
    const yesterday = new Date(2026, 10, 30, 23, 59, 58).toISOString();
    const lastYear = new Date(2025, 11, 1, 9, 5, 7).toISOString();
    const clock = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour12: false });
    expect(clockTime(today, now)).toBe(clock(today));
    expect(clockTime(yesterday, now)).toMatch(/30/);
    expect(clockTime(yesterday, now).endsWith(`, ${clock(yesterday)}`)).toBe(true);
    expect(clockTime(lastYear, now)).toMatch(/2025/);
    expect(clockTime(today, now, "minutes")).not.toMatch(/:07/);
  });
});
