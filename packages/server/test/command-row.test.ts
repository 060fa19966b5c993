// Inside workerd: the Session holds the row of the command in flight instead of reading it on every runtime frame.
// Whatever happens to the command (dispatch, start, output on both streams, a duplicate, a cancel, the end), the row
// it holds is the row in storage, and the acks made from it say exactly what is committed.

import { env, runInDurableObject } from "cloudflare:test";
import { encodeOutputFrame, utf8 } from "@caisey/core";
import { describe, expect, it } from "vitest";
import type { CommandRow, SessionStore } from "../src/objects/session/store.ts";
import { call, finishedFrame, json, ownerOnce, sessionOnline, startedFrame } from "./harness.ts";

const owner = ownerOnce("hana@heldrow.test");

describe("the command row a Session holds", () => {
  it("is the stored row after every step of a command, and the acks follow the storage", async () => {
    const { token, runtime, sessionId } = await sessionOnline(owner);
    const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
    /** The row the store answers with and the row in SQLite, read in one turn of the object. */
    const both = (commandId: string) =>
      runInDurableObject(stub, (instance, state) => ({
        held: (instance as unknown as { store: SessionStore }).store.command(commandId),
        stored: state.storage.sql.exec<CommandRow>("SELECT * FROM commands WHERE id = ?", commandId).one(),
      }));
    const sameAsStored = async (commandId: string) => {
      const { held, stored } = await both(commandId);
      expect(held).toEqual(stored);
      return stored;
    };

    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: "cat big" } }),
      202,
    );
    expect(await runtime.box.next()).toMatchObject({ t: "dispatch", commandId });
    expect(await sameAsStored(commandId)).toMatchObject({ dispatched: 1, delivered: 1, state: "queued" });
    const ref = { sessionId, commandId };
    runtime.ws.send(JSON.stringify(startedFrame(ref)));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", started: true, stdout: 0, stderr: 0 });
    expect(await sameAsStored(commandId)).toMatchObject({ state: "running" });

    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, utf8("one\n")));
    expect(await runtime.box.next()).toMatchObject({ stdout: 4, stderr: 0 });
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stderr", offset: 0 }, utf8("oops\n")));
    expect(await runtime.box.next()).toMatchObject({ stdout: 4, stderr: 5 });
    // A resend overlapping what is committed: only the new bytes count.
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 2 }, utf8("e\ntwo\n")));
    expect(await runtime.box.next()).toMatchObject({ stdout: 8, stderr: 5 });
    expect(await sameAsStored(commandId)).toMatchObject({ stdout_committed: 8, stderr_committed: 5 });

    // A cancel while it runs: asked of the runtime, kept on the row the next frame reads.
    expect(
      await json(await call(`/api/v1/sessions/${sessionId}/commands/${commandId}/cancel`, { token, body: {} }), 202),
    ).toMatchObject({ state: "running" });
    expect(await runtime.box.next()).toMatchObject({ t: "cancel", commandId });
    expect(await sameAsStored(commandId)).toMatchObject({ cancel_requested: 1 });
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 8 }, utf8("three\n")));
    expect(await runtime.box.next()).toMatchObject({ stdout: 14, stderr: 5, finished: false });
    runtime.ws.send(
      JSON.stringify(finishedFrame(ref, { state: "cancelled", exitCode: null, stdoutBytes: 14, stderrBytes: 5 })),
    );
    expect(await runtime.box.next()).toMatchObject({ finished: true, stdout: 14, stderr: 5 });
    expect(await sameAsStored(commandId)).toMatchObject({ state: "cancelled", stdout_committed: 14 });
    runtime.ws.close();
  });
});
