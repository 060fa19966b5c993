// Inside workerd: a Session's push to the search index, once due, waits for the session's next hand-over of a command
// (the runtime then works for some milliseconds, and the thread is free), not for the clock alone.

import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { call, finishedFrame, json, ownerOnce, sessionOnline, startedFrame } from "./harness.ts";

const owner = ownerOnce("ines@indexfeed.test");

// The watermark as the feed holds it: its write waits for the session's next transaction (durable/later.ts).
type Feed = { delayMs: number; holdMs: number; due: boolean; indexedThrough(): number };

describe("the search index feed", () => {
  it("pushes a due batch when the session hands its next command over", async () => {
    const { token, runtime, sessionId } = await sessionOnline(owner);
    const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
    const feed = () =>
      runInDurableObject(stub, (instance, state) => ({
        through: (instance as unknown as { feed: Feed }).feed.indexedThrough(),
        seq: state.storage.sql.exec<{ seq: number }>("SELECT MAX(seq) AS seq FROM events").one().seq,
        due: (instance as unknown as { feed: Feed }).feed.due,
      }));
    // What the session's opening appended is pushed first, as ever.
    await vi.waitFor(async () => {
      const { through, seq } = await feed();
      expect(through).toBe(seq);
    });
    // From here a push is due 1 ms after an append, and then waits an hour for a hand-over.
    await runInDurableObject(stub, (instance) => {
      const f = (instance as unknown as { feed: Feed }).feed;
      f.delayMs = 1;
      f.holdMs = 3_600_000;
    });
    const request = async (command: string) =>
      (await json(await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command } }), 202))
        .commandId as string;

    const a = await request("echo a");
    expect(await runtime.box.next()).toMatchObject({ t: "dispatch", commandId: a });
    runtime.ws.send(JSON.stringify(startedFrame({ sessionId, commandId: a })));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", commandId: a, started: true });
    runtime.ws.send(JSON.stringify(finishedFrame({ sessionId, commandId: a })));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", commandId: a, finished: true });
    // A's start and finish are due, and wait.
    await vi.waitFor(async () => expect((await feed()).due).toBe(true));
    const waiting = await feed();
    expect(waiting.through).toBeLessThan(waiting.seq);

    const b = await request("echo b");
    expect(await runtime.box.next()).toMatchObject({ t: "dispatch", commandId: b });
    // Handed over: the due push goes, with everything recorded so far.
    await vi.waitFor(async () => expect((await feed()).through).toBeGreaterThanOrEqual(waiting.seq));
    expect((await feed()).due).toBe(false);
  });
});
