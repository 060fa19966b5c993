// The console's transcript model folds command.prestate into its change, and pairs a file's content before one change
// with what the next change to that file found there (the after, for the before → after diff).
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../packages/console/src/api.ts";
import { Transcript } from "../../packages/console/src/transcript.ts";

let seq = 0;
function ev(type: string, data: Record<string, unknown>, actor = "machine:mch_x"): SessionEvent {
  seq++;
  return { seq, ts: new Date(seq * 1000).toISOString(), type, actor, data, hash: seq.toString(16).padStart(64, "0") };
}
const b64 = (text: string) => Buffer.from(text).toString("base64");
const requested = (commandId: string, command: string) =>
  ev("command.requested", { commandId, command, shell: "bash", classification: "change" }, "user:usr_a");
const file = (target: string, text: string | null) =>
  text === null
    ? { kind: "file", target, exists: false }
    : { kind: "file", target, exists: true, bytes: text.length, sha256: "ab".repeat(32), data: b64(text) };

describe("the pre-state in the transcript", () => {
  it("belongs to its command, and a later change's pre-state of the same file is the earlier one's after", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(ev("session.opened", { hostname: "pc-1" }, "user:usr_a"));
    t.apply(requested("c1", "printf 'a=1\\n' > /srv/new.conf; sed -i s/1/2/ /srv/app.conf"));
    t.apply(
      ev("command.prestate", {
        commandId: "c1",
        probes: [file("/srv/new.conf", null), file("/srv/app.conf", "x=1\n")],
      }),
    );
    t.apply(ev("command.started", { commandId: "c1", pid: 1 }));
    const c1 = t.commands.get("c1");
    expect(c1?.prestate).toMatchObject({ seq: 3, probes: [{ target: "/srv/new.conf" }, { target: "/srv/app.conf" }] });
    expect(c1?.prestate?.after.size).toBe(0);
    // The block is one item: the pre-state is folded into it, like started.
    expect(t.items.filter((i) => i.kind === "command")).toHaveLength(1);
    expect(t.itemSeqOf(3)).toBe(2);

    t.apply(requested("c2", "sed -i s/a/b/ /srv/new.conf /srv/app.conf"));
    const version = c1?.version ?? 0;
    t.apply(
      ev("command.prestate", {
        commandId: "c2",
        probes: [file("/srv/new.conf", "a=1\n"), file("/srv/app.conf", "x=2\n")],
      }),
    );
    expect(c1?.prestate?.after).toEqual(
      new Map([
        [0, { data: b64("a=1\n"), ts: new Date(6000).toISOString() }],
        [1, { data: b64("x=2\n"), ts: new Date(6000).toISOString() }],
      ]),
    );
    expect(c1?.version).toBeGreaterThan(version);
    expect(t.commands.get("c2")?.prestate?.after.size).toBe(0);
  });

  it("keeps the reason when the pre-state did not arrive whole, and pairs nothing across an unreadable file", () => {
    seq = 0;
    const t = new Transcript();
    t.apply(requested("c1", "rm /srv/a"));
    t.apply(
      ev("command.prestate", { commandId: "c1", probes: [], error: "the pre-state arrived incomplete (1 of 2 parts)" }),
    );
    expect(t.commands.get("c1")?.prestate).toMatchObject({
      probes: [],
      error: "the pre-state arrived incomplete (1 of 2 parts)",
    });
    t.apply(requested("c2", "rm /srv/b"));
    t.apply(ev("command.prestate", { commandId: "c2", probes: [file("/srv/b", "1")] }));
    t.apply(requested("c3", "rm /srv/b"));
    t.apply(
      ev("command.prestate", {
        commandId: "c3",
        probes: [{ kind: "file", target: "/srv/b", exists: false, error: "permission denied" }],
      }),
    );
    expect(t.commands.get("c2")?.prestate?.after.size).toBe(0);
  });
});
