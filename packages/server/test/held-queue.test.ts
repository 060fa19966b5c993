// Inside workerd: the Session keeps the commands not yet final in memory (dispatch, a finish and the idle close read
// it on every command). It is rebuilt from SQLite when the object wakes, a request whose transaction rolls back leaves
// nothing of it, and the commands still go out one at a time, in order, with exact acks.

import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CommandRow, SessionStore } from "../src/objects/session/store.ts";
import { call, dispatchVerifies, finishedFrame, json, ownerOnce, sessionOnline, startedFrame } from "./harness.ts";

const owner = ownerOnce("hana@heldqueue.test");

describe("the queue a Session holds", () => {
  it("is rebuilt from SQLite after an eviction mid-queue, drops a rolled-back request, and dispatches in order", async () => {
    const { token, m, runtime, sessionId } = await sessionOnline(owner);
    const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
    /** What the store answers for the queue, and the same read from SQLite, in one turn of the object. */
    const queue = () =>
      runInDurableObject(stub, (instance, state) => {
        const store = (instance as unknown as { store: SessionStore }).store;
        const stored = state.storage.sql
          .exec<CommandRow>(
            "SELECT * FROM commands WHERE state IN ('queued', 'running', 'awaiting_approval') ORDER BY position",
          )
          .toArray();
        return { first: store.firstWaiting(), count: store.waitingCount(), stored };
      });
    const sameAsStored = async () => {
      const { first, count, stored } = await queue();
      expect({ first, count }).toEqual({ first: stored.slice(0, 1), count: stored.length });
      return stored.map((c) => [c.command, c.state, c.dispatched, c.delivered]);
    };
    /** The finish's ack and the next command's dispatch (they travel different ways, so in either order). */
    const ackAndDispatch = async () => {
      const two = [await runtime.box.next(), await runtime.box.next()];
      return { ack: two.find((f) => f.t === "ack"), dispatch: two.find((f) => f.t === "dispatch") };
    };
    /** The runtime runs a command to its end: started (acked), then finished (its ack is the caller's to take). */
    const run = async (commandId: string) => {
      const ref = { sessionId, commandId };
      runtime.ws.send(JSON.stringify(startedFrame(ref)));
      expect(await runtime.box.next()).toMatchObject({ t: "ack", commandId, started: true });
      runtime.ws.send(JSON.stringify(finishedFrame(ref)));
    };
    const request = async (command: string) =>
      (await json(await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command } }), 202))
        .commandId as string;

    const a = await request("echo a");
    const dispatchA = await runtime.box.next();
    expect(dispatchA).toMatchObject({ t: "dispatch", commandId: a, command: "echo a" });
    // Signed when it was requested: the signature stored with the row verifies as the runtime checks it.
    expect(await dispatchVerifies(m, dispatchA)).toBe(true);
    const b = await request("echo b");

    // A request whose transaction rolls back (its report cannot be kept): no command, nothing of it in the queue.
    await runInDurableObject(stub, (instance) => {
      const outbox = (instance as unknown as { outbox: { enqueue: (...args: unknown[]) => void } }).outbox;
      const enqueue = outbox.enqueue.bind(outbox);
      let failed = false;
      outbox.enqueue = (...args) => {
        if (!failed) {
          failed = true;
          throw new Error("injected fault");
        }
        enqueue(...args);
      };
    });
    const refused = await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: "echo lost" } });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    await refused.body?.cancel();
    expect(await sameAsStored()).toEqual([
      ["echo a", "queued", 1, 1],
      ["echo b", "queued", 0, 0],
    ]);

    const c = await request("echo c");
    await evictDurableObject(stub);

    // The woken object finishes A and hands over B, then C: the queue read again from what is stored.
    await run(a);
    const afterA = await ackAndDispatch();
    expect(afterA.ack).toMatchObject({ commandId: a, finished: true, stdout: 0, stderr: 0 });
    const dispatchB = afterA.dispatch;
    expect(dispatchB).toMatchObject({ t: "dispatch", commandId: b, command: "echo b", resume: false });
    expect(await dispatchVerifies(m, dispatchB)).toBe(true);
    expect(await sameAsStored()).toEqual([
      ["echo b", "queued", 1, 1],
      ["echo c", "queued", 0, 0],
    ]);

    await evictDurableObject(stub);
    await run(b);
    const afterB = await ackAndDispatch();
    expect(afterB.ack).toMatchObject({ commandId: b, finished: true });
    expect(afterB.dispatch).toMatchObject({ commandId: c, command: "echo c" });
    await run(c);
    expect(await runtime.box.next()).toMatchObject({ t: "ack", commandId: c, finished: true });
    expect(await sameAsStored()).toEqual([]);
    const { commands } = await json(await call(`/api/v1/sessions/${sessionId}`, { token }), 200);
    expect(commands.map((x: { command: string; state: string }) => [x.command, x.state])).toEqual([
      ["echo a", "finished"],
      ["echo b", "finished"],
      ["echo c", "finished"],
    ]);
    runtime.ws.close();
  });
});
