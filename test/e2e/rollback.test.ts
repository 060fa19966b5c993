// Rolling back yesterday's change on real processes: a change made in one session, that session closed, and its
// reverse requested from a new one, held for the client's contact, then run by the real runtime in the real /bin/sh.
// The file's bytes come back exactly; a declined rollback touches nothing; a change is rolled back once.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type Api, fetchRecord, tempDir } from "../helpers.ts";
import { expectHeldForApproval, runToEnd, useOrganization, waitCommand } from "../organization.ts";

const CAROL = { name: "Carol Contoso", email: "carol@contoso.test", password: "correct horse battery staple" };
const org = useOrganization({
  clients: [{ name: "Contoso Dental", approvalPolicy: "never", machine: true, contacts: [CAROL] }],
});
let contact: Api;

beforeAll(async () => {
  contact = await org.login(CAROL.email);
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Make a change in a session of its own, and close that session: yesterday's work. */
async function yesterday(command: string) {
  const { id: sessionId } = await org.owner.json("/api/v1/sessions", { machineId: org.runtime.machineId });
  const change = await runToEnd(org.owner, sessionId, command);
  expect(change).toMatchObject({ state: "finished", exitCode: 0 });
  await org.owner.json(`/api/v1/sessions/${sessionId}/close`, {});
  return { sessionId, commandId: change.id as string };
}

/** Request the proposed reverse of a change: a new session, the command held for the contact's approval. */
async function requestRollback(of: { sessionId: string; commandId: string }) {
  const res = await org.owner.post("/api/v1/rollbacks", of);
  expect(res.status).toBe(202);
  const rollback = (await res.json()) as { sessionId: string; commandId: string; approvalId: string; state: string };
  expect(rollback.state).toBe("awaiting_approval");
  expect(rollback.sessionId).not.toBe(of.sessionId);
  await expectHeldForApproval(org.owner, rollback.sessionId, rollback.commandId);
  return rollback;
}

async function decide(approvalId: string, decision: "approve" | "decline") {
  const res = await contact.post(`/api/v1/approvals/${approvalId}/decision`, { decision });
  expect(res.status).toBe(200);
}

describe("rolling back a change", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("rollback");
    org.removeLater(dir);
  });

  it("puts back the exact bytes a sed -i changed, after the contact approves, linked to the change's record", async () => {
    const conf = join(dir, "app.conf");
    const before = Buffer.concat([
      Buffer.from("port=1\r\n"),
      Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a]),
      Buffer.from("name=caf\xe9\r\n", "latin1"),
      Buffer.from("'quoted' %s \\ $HOME `x` last line without newline"),
    ]);
    writeFileSync(conf, before, { mode: 0o640 });
    const change = await yesterday(`sed -i 's/port=1/port=2/' '${conf}'`);
    expect(sha(readFileSync(conf))).not.toBe(sha(before));

    const rollback = await requestRollback(change);
    expect(sha(readFileSync(conf))).not.toBe(sha(before));
    await decide(rollback.approvalId, "approve");
    const ran = await waitCommand(org.owner, rollback.sessionId, rollback.commandId);
    expect(ran).toMatchObject({ state: "finished", exitCode: 0 });
    expect(sha(readFileSync(conf))).toBe(sha(before));
    expect(readFileSync(conf).equals(before)).toBe(true);

    // The link names the change's command.finished event and the chain hash there, as its record serves them.
    const { events } = await org.owner.json(`/api/v1/sessions/${change.sessionId}/events`);
    const finished = events.find((e: any) => e.type === "command.finished" && e.data.commandId === change.commandId);
    const { events: after } = await fetchRecord(org.owner, rollback.sessionId);
    const requested = after.find((e) => e.type === "command.requested" && e.data.commandId === rollback.commandId);
    expect(requested.data.rollbackOf).toEqual({
      sessionId: change.sessionId,
      commandId: change.commandId,
      seq: finished.seq,
      hash: finished.hash,
    });
  });

  it("removes a file that a > created", async () => {
    const created = join(dir, "created.txt");
    const change = await yesterday(`printf 'hello' > '${created}'`);
    expect(readFileSync(created, "utf8")).toBe("hello");

    const rollback = await requestRollback(change);
    await decide(rollback.approvalId, "approve");
    expect(await waitCommand(org.owner, rollback.sessionId, rollback.commandId)).toMatchObject({
      state: "finished",
      exitCode: 0,
    });
    expect(existsSync(created)).toBe(false);
  });

  it("changes nothing when the contact declines, and refuses a second rollback of a change rolled back", async () => {
    const conf = join(dir, "declined.conf");
    writeFileSync(conf, "mode=old\n");
    const change = await yesterday(`sed -i 's/old/new/' '${conf}'`);
    const changed = readFileSync(conf);
    expect(changed.toString()).toBe("mode=new\n");

    const declined = await requestRollback(change);
    await decide(declined.approvalId, "decline");
    expect(await waitCommand(org.owner, declined.sessionId, declined.commandId)).toMatchObject({
      state: "declined",
      exitCode: null,
      stdoutBytes: 0,
      stderrBytes: 0,
    });
    expect(readFileSync(conf).equals(changed)).toBe(true);
    const { events } = await fetchRecord(org.owner, declined.sessionId);
    const about = events.filter((e) => e.data?.commandId === declined.commandId).map((e) => e.type);
    expect(about).not.toContain("command.started");
    expect(about).not.toContain("command.output");

    // A declined rollback does not count: the change can be rolled back, once.
    const rollback = await requestRollback(change);
    const again = await org.owner.post("/api/v1/rollbacks", change);
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe("already_rolled_back");
    await decide(rollback.approvalId, "approve");
    await waitCommand(org.owner, rollback.sessionId, rollback.commandId);
    expect(readFileSync(conf, "utf8")).toBe("mode=old\n");
    const afterDone = await org.owner.post("/api/v1/rollbacks", change);
    expect(afterDone.status).toBe(409);
    expect((await afterDone.json()).error.code).toBe("already_rolled_back");
  });
});
