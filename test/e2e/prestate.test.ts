// The pre-state on real processes: the real runtime reads what a change is about to touch before it runs it, and the
// record holds it, byte-exact, as command.prestate right before command.started.

import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fetchRecord, tempDir } from "../helpers.ts";
import { runToEnd, useOrganization } from "../organization.ts";

const org = useOrganization({ clients: [{ name: "Contoso Dental", approvalPolicy: "never", machine: true }] });

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The command.prestate of a command, checked to come right before its command.started. */
async function prestateOf(sessionId: string, commandId: string) {
  const { events } = await fetchRecord(org.owner, sessionId);
  const at = events.findIndex((e) => e.type === "command.prestate" && e.data.commandId === commandId);
  expect(at).toBeGreaterThan(0);
  expect(events[at + 1]).toMatchObject({ type: "command.started", data: { commandId } });
  expect(events.filter((e) => e.type === "command.prestate" && e.data.commandId === commandId)).toHaveLength(1);
  return events[at];
}

describe("the pre-state of a change", () => {
  it("records the exact bytes a sed -i changed, a new file as absent, and a failed probe without blocking", async () => {
    const dir = tempDir("prestate");
    org.removeLater(dir);
    const conf = join(dir, "app.conf");
    const before = Buffer.concat([
      Buffer.from("port=1\r\n"),
      Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a]),
      Buffer.from("name=caf\xe9\r\n", "latin1"),
    ]);
    writeFileSync(conf, before, { mode: 0o640 });
    const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });

    const sed = await runToEnd(org.owner, sessionId, `sed -i 's/port=1/port=2/' '${conf}'`);
    expect(sed).toMatchObject({ state: "finished", exitCode: 0 });
    expect(readFileSync(conf).toString("latin1")).toContain("port=2");
    const stat = statSync(conf);
    expect((await prestateOf(sessionId, sed.id)).data).toEqual({
      commandId: sed.id,
      probes: [
        {
          kind: "file",
          target: conf,
          exists: true,
          sha256: sha(before),
          bytes: before.length,
          mode: "0640",
          owner: `${stat.uid}:${stat.gid}`,
          data: before.toString("base64"),
        },
      ],
    });

    const created = join(dir, "new.txt");
    const redirect = await runToEnd(org.owner, sessionId, `printf 'hello' > '${created}'`);
    expect(redirect).toMatchObject({ state: "finished", exitCode: 0 });
    expect(readFileSync(created, "utf8")).toBe("hello");
    expect((await prestateOf(sessionId, redirect.id)).data).toEqual({
      commandId: redirect.id,
      probes: [{ kind: "file", target: created, exists: false }],
    });

    // A path under a file cannot be read (ENOTDIR): recorded as failed, and the command still runs.
    const unreadable = join(conf, "x");
    const failed = await runToEnd(org.owner, sessionId, `rm -f '${unreadable}'; echo ran`);
    expect(failed).toMatchObject({ state: "finished", exitCode: 0, stdoutBytes: 4 });
    expect((await prestateOf(sessionId, failed.id)).data).toEqual({
      commandId: failed.id,
      probes: [
        {
          kind: "file",
          target: unreadable,
          exists: false,
          error: "not a directory: part of its path is a file",
        },
      ],
    });

    // A command that only reads has nothing to record first.
    const read = await runToEnd(org.owner, sessionId, `cat '${created}'`);
    const { events } = await fetchRecord(org.owner, sessionId);
    expect(events.some((e) => e.type === "command.prestate" && e.data.commandId === read.id)).toBe(false);
  });
});
