// The Machine forwards a runtime's bulk output frames in turns and a small command's frames at once (issue 15's
// fairness). Whatever the order they are forwarded in, each session keeps its own frames' order: a bulk command's end
// sent right behind its output is committed after all of it, and a small command on another session of the same
// machine, sent in the middle of the backlog, is recorded whole. Checked by exact bytes and final states.

import { encodeOutputFrame, toHex } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import { call, connectRuntime, enrollMachine, finishedFrame, json, ownerOnce, startedFrame } from "./harness.ts";

const owner = ownerOnce("fiona@frame-turns.test");
const FRAME = 96 * 1024; // well above the Machine's bulk threshold
const FRAMES = 6;

async function dispatched(token: string, machineId: string, runtime: Awaited<ReturnType<typeof connectRuntime>>) {
  const { id: sessionId } = await json(await call("/api/v1/sessions", { token, body: { machineId } }), 201);
  const { commandId } = await json(
    await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: "cat blob" } }),
    202,
  );
  await runtime.box.until((items) => items.some((f) => f.t === "dispatch" && f.commandId === commandId));
  return { sessionId, commandId };
}

describe("the Machine's turns for bulk frames", () => {
  it("keeps each session's order and records a small command sent amid a bulk backlog whole", async () => {
    const token = await owner();
    const m = await enrollMachine(token);
    const runtime = await connectRuntime(m);
    const bulk = await dispatched(token, m.machineId, runtime);
    const small = await dispatched(token, m.machineId, runtime);
    const blob = Uint8Array.from({ length: FRAME * FRAMES }, (_, i) => (i * 7 + (i >> 10)) % 256);
    const line = new TextEncoder().encode("x\n");

    // All sent without waiting for an ack, as a runtime with a full send window does.
    runtime.ws.send(JSON.stringify(startedFrame(bulk)));
    for (let i = 0; i < FRAMES; i++) {
      const offset = i * FRAME;
      const frame = { t: "output" as const, ...bulk, stream: "stdout" as const, offset };
      runtime.ws.send(encodeOutputFrame(frame, blob.subarray(offset, offset + FRAME)));
      if (i === 1) {
        runtime.ws.send(JSON.stringify(startedFrame(small)));
        runtime.ws.send(encodeOutputFrame({ t: "output", ...small, stream: "stdout", offset: 0 }, line));
        const lineSha = toHex(await sha256(line));
        runtime.ws.send(JSON.stringify(finishedFrame(small, { stdoutBytes: 2, stdoutSha256: lineSha })));
      }
    }
    const blobSha = toHex(await sha256(blob));
    runtime.ws.send(JSON.stringify(finishedFrame(bulk, { stdoutBytes: blob.length, stdoutSha256: blobSha })));

    const finished = (ref: { commandId: string }) => (items: any[]) =>
      items.some((f) => f.t === "ack" && f.commandId === ref.commandId && f.finished);
    await runtime.box.until((items) => finished(bulk)(items) && finished(small)(items), 30_000);
    expect(runtime.box.items.filter((f) => f.t === "error")).toEqual([]);
    // Every bulk frame was acknowledged in order, each ack covering all output before it.
    const bulkAcks = runtime.box.items.filter((f) => f.t === "ack" && f.commandId === bulk.commandId);
    const committed = bulkAcks.map((a) => a.stdout);
    expect(committed).toEqual([...committed].sort((a, b) => a - b));
    expect(bulkAcks.at(-1)).toMatchObject({ started: true, stdout: blob.length, finished: true });

    for (const [ref, bytes] of [
      [bulk, blob],
      [small, line],
    ] as const) {
      const { command } = await json(
        await call(`/api/v1/sessions/${ref.sessionId}/commands/${ref.commandId}`, { token }),
        200,
      );
      expect(command).toMatchObject({
        state: "finished",
        exitCode: 0,
        stdoutBytes: bytes.length,
        stdoutSha256: toHex(await sha256(bytes)),
      });
      const res = await call(`/api/v1/sessions/${ref.sessionId}/commands/${ref.commandId}/output?stream=stdout`, {
        token,
      });
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    }
  });
});
