// A Session whose storage was written under the previous schema (every migration but the last) keeps working once
// the object starts with the full list: same summary, the same record bytes, and new commands are taken.

import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { encodeOutputFrame, splitRecordLines, utf8, verifyChain } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import { MIGRATIONS } from "../src/objects/session/store.ts";
import {
  call,
  connectRuntime,
  enrollMachine,
  finishedFrame,
  json,
  ownerOnce,
  previousRelease,
  restoreRows,
  sessionRows,
  startedFrame,
} from "./harness.ts";

const owner = ownerOnce("olivia@upgrade.test");

/** The NDJSON export. */
async function recordOf(sessionPath: string, token: string): Promise<string> {
  const res = await call(`${sessionPath}/record`, { token });
  expect(res.status).toBe(200);
  return new TextDecoder().decode(await res.arrayBuffer());
}

describe("Session schema upgrade", () => {
  it("reads and runs a session stored under the previous schema", async () => {
    const token = await owner();
    const m = await enrollMachine(token);
    const runtime = await connectRuntime(m);
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token, body: { machineId: m.machineId, ticket: "T-9" } }),
      201,
    );
    const sessionPath = `/api/v1/sessions/${sessionId}`;

    // A command that ran and failed (exit 1), with output on both streams.
    const ran = await json(await call(`${sessionPath}/commands`, { token, body: { command: "echo hi" } }), 202);
    expect(await runtime.box.next()).toMatchObject({ t: "dispatch", commandId: ran.commandId });
    const ref = { sessionId, commandId: ran.commandId };
    runtime.ws.send(JSON.stringify(startedFrame(ref)));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", started: true });
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, utf8("hi\n")));
    expect(await runtime.box.next()).toMatchObject({ stdout: 3 });
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stderr", offset: 0 }, utf8("warn\n")));
    expect(await runtime.box.next()).toMatchObject({ stderr: 5 });
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: 3, stderrBytes: 5, exitCode: 1 })));
    expect(await runtime.box.next()).toMatchObject({ finished: true });
    // A command waiting for the client's approval.
    const waiting = await json(
      await call(`${sessionPath}/commands`, {
        token,
        body: { command: "systemctl restart cups", requireApproval: true },
      }),
      202,
    );
    expect(waiting).toMatchObject({ state: "awaiting_approval", approvalId: expect.stringMatching(/^apr_/) });
    await json(await call(`${sessionPath}/notes`, { token, body: { text: "before the upgrade" } }), 201);

    const summaryBefore = await json(await call(sessionPath, { token }), 200);
    const recordBefore = await recordOf(sessionPath, token);

    // The same rows, in storage that has every migration but the last (once the search feed, which the last
    // migration serves, has caught up: nothing of this object runs between the rewind and the restart).
    const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
    await expect
      .poll(() =>
        runInDurableObject(
          stub,
          (_instance, state) =>
            state.storage.sql.exec<{ through: number }>("SELECT through FROM index_feed").one().through,
        ),
      )
      .toBe(9);
    await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      const rows = sessionRows(sql);
      expect(rows.map((t) => t.rows.length)).toEqual([1, 9, 2, 1]);
      await previousRelease(state, MIGRATIONS, MIGRATIONS.length - 1);
      restoreRows(sql, rows);
      expect(sql.exec("SELECT name FROM _migrations ORDER BY id").toArray().length).toBe(MIGRATIONS.length - 1);
    });
    // The next start of the object applies the full list.
    await evictDurableObject(stub);

    expect(await json(await call(sessionPath, { token }), 200)).toEqual(summaryBefore);
    const recordAfter = await recordOf(sessionPath, token);
    expect(recordAfter).toBe(recordBefore);
    expect(verifyChain(sha256, sessionId, splitRecordLines(recordAfter))).toMatchObject({ ok: true });
    expect(
      await runInDurableObject(stub, (_instance, state) =>
        state.storage.sql.exec<{ id: number; name: string }>("SELECT id, name FROM _migrations ORDER BY id").toArray(),
      ),
    ).toEqual(MIGRATIONS.map((migration, i) => ({ id: i + 1, name: migration.name })));

    // It still works: the waiting command is cancelled (its approval withdrawn), and a new one goes to the machine.
    expect(
      await json(await call(`${sessionPath}/commands/${waiting.commandId}/cancel`, { token, body: {} }), 202),
    ).toEqual({
      state: "cancelled",
    });
    const next = await json(await call(`${sessionPath}/commands`, { token, body: { command: "uptime" } }), 202);
    expect(next).toEqual({ commandId: expect.stringMatching(/^cmd_/), state: "queued", approvalId: null });
    expect(await runtime.box.next()).toMatchObject({ t: "dispatch", commandId: next.commandId, command: "uptime" });
    const { events } = await json(await call(`${sessionPath}/events?after=9`, { token }), 200);
    expect(events.map((e: { seq: number; type: string }) => [e.seq, e.type])).toEqual([
      [10, "command.finished"],
      [11, "command.requested"],
    ]);
    // The counters the upgrade filled in from the rows went on counting: the new command is the third, and the session
    // list is told of three commands, the failed one and the one approval request (read from the Session's outbox:
    // the Fleet's receipts already hold the seqs of this outbox, which the rewind emptied).
    expect(
      await runInDurableObject(stub, (_instance, state) => {
        const sql = state.storage.sql;
        const told = sql
          .exec<{ payload: string }>(
            "SELECT payload FROM outbox WHERE kind = 'session.updated' ORDER BY seq DESC LIMIT 1",
          )
          .one();
        return {
          counters: sql.exec("SELECT command_count, failed_count, approval_count FROM session").one(),
          positions: sql.exec("SELECT id, position FROM commands ORDER BY position").toArray(),
          told: JSON.parse(told.payload).update,
        };
      }),
    ).toEqual({
      counters: { command_count: 3, failed_count: 1, approval_count: 1 },
      positions: [
        { id: ran.commandId, position: 1 },
        { id: waiting.commandId, position: 2 },
        { id: next.commandId, position: 3 },
      ],
      told: expect.objectContaining({ commandCount: 3, failedCount: 1, approvalCount: 1 }),
    });
    runtime.ws.close();
  });
});
