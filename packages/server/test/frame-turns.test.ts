// The Machine forwards a runtime's bulk output frames in turns and a small command's frames at once (issue 15's
// fairness). Whatever the order they are forwarded in, each session keeps its own frames' order: a bulk command's end
// sent right behind its output is committed after all of it, and a small command on another session of the same
// machine, sent in the middle of the backlog, is recorded whole. Checked by exact bytes and final states.

import { env, runInDurableObject } from "cloudflare:test";
import { encodeOutputFrame, newId, toHex } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import {
  call,
  connectRuntime,
  enrollMachine,
  finishedFrame,
  json,
  ownerOnce,
  sessionOnline,
  startedFrame,
} from "./harness.ts";

const owner = ownerOnce("fiona@frame-turns.test");
const FRAME = 96 * 1024; // well above the Machine's bulk threshold
const FRAMES = 6;

async function dispatched(token: string, machineId: string, runtime: Awaited<ReturnType<typeof connectRuntime>>) {
  const { id: sessionId } = await json(await call("/api/v1/sessions", { token, body: { machineId } }), 201);
  return dispatchedIn(token, sessionId, runtime);
}

type Runtime = Awaited<ReturnType<typeof connectRuntime>>;
type Ref = { sessionId: string; commandId: string };

const blobOf = (seed: number) => Uint8Array.from({ length: FRAME * FRAMES }, (_, i) => (i * seed + (i >> 10)) % 256);

/** A bulk command's started, output and finished frames, sent without waiting for an ack (a full send window). */
async function sendBulk(runtime: Runtime, ref: Ref, blob: Uint8Array, amid?: () => Promise<void>): Promise<void> {
  runtime.ws.send(JSON.stringify(startedFrame(ref)));
  for (let i = 0; i < FRAMES; i++) {
    const offset = i * FRAME;
    const frame = { t: "output" as const, ...ref, stream: "stdout" as const, offset };
    runtime.ws.send(encodeOutputFrame(frame, blob.subarray(offset, offset + FRAME)));
    if (i === 1) await amid?.();
  }
  const sha = toHex(await sha256(blob));
  runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: blob.length, stdoutSha256: sha })));
}

/** A one-line command's frames, all at once. */
async function sendSmall(runtime: Runtime, ref: Ref, line: Uint8Array): Promise<void> {
  runtime.ws.send(JSON.stringify(startedFrame(ref)));
  runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, line));
  const sha = toHex(await sha256(line));
  runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: line.length, stdoutSha256: sha })));
}

/** Every command of the runtime acknowledged as finished, with no error; a bulk one's acks in order. */
async function allAcknowledged(runtime: Runtime, refs: Ref[], bulk: Ref[]): Promise<void> {
  const finished = (ref: Ref) => (items: any[]) =>
    items.some((f) => f.t === "ack" && f.commandId === ref.commandId && f.finished);
  await runtime.box.until((items) => refs.every((ref) => finished(ref)(items)), 30_000);
  expect(runtime.box.items.filter((f) => f.t === "error")).toEqual([]);
  for (const ref of bulk) {
    // Every bulk frame was acknowledged in order, each ack covering all output before it.
    const acks = runtime.box.items.filter((f) => f.t === "ack" && f.commandId === ref.commandId);
    const committed = acks.map((a) => a.stdout);
    expect(committed).toEqual([...committed].sort((a, b) => a - b));
    expect(acks.at(-1)).toMatchObject({ started: true, stdout: FRAME * FRAMES, finished: true });
  }
}

/** The command is recorded finished with exactly these bytes. */
async function recordedWhole(token: string, ref: Ref, bytes: Uint8Array): Promise<void> {
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
  const res = await call(`/api/v1/sessions/${ref.sessionId}/commands/${ref.commandId}/output?stream=stdout`, { token });
  expect(res.status).toBe(200);
  expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
}

const line = new TextEncoder().encode("x\n");

describe("the Machine's turns for bulk frames", () => {
  it("keeps each session's order and records a small command sent amid a bulk backlog whole", async () => {
    const token = await owner();
    const m = await enrollMachine(token);
    const runtime = await connectRuntime(m);
    const bulk = await dispatched(token, m.machineId, runtime);
    const small = await dispatched(token, m.machineId, runtime);
    const blob = blobOf(7);
    await sendBulk(runtime, bulk, blob, () => sendSmall(runtime, small, line));
    await allAcknowledged(runtime, [bulk, small], [bulk]);
    await recordedWhole(token, bulk, blob);
    await recordedWhole(token, small, line);
  });

  it("records two machines' bulk backlogs, sent at once, and a third's small command amid them whole", async () => {
    // Two machines streaming on one thread: their bulk frames go through the isolate's gate (one at a time, with a
    // rest after each), the small command's at once.
    const token = await owner();
    const [a, b, c] = [await enrollMachine(token), await enrollMachine(token), await enrollMachine(token)];
    const [ra, rb, rc] = [await connectRuntime(a), await connectRuntime(b), await connectRuntime(c)];
    const bulkA = await dispatched(token, a.machineId, ra);
    const bulkB = await dispatched(token, b.machineId, rb);
    const small = await dispatched(token, c.machineId, rc);
    const [blobA, blobB] = [blobOf(7), blobOf(13)];
    await Promise.all([sendBulk(ra, bulkA, blobA, () => sendSmall(rc, small, line)), sendBulk(rb, bulkB, blobB)]);
    await Promise.all([
      allAcknowledged(ra, [bulkA], [bulkA]),
      allAcknowledged(rb, [bulkB], [bulkB]),
      allAcknowledged(rc, [small], []),
    ]);
    await recordedWhole(token, bulkA, blobA);
    await recordedWhole(token, bulkB, blobB);
    await recordedWhole(token, small, line);
  });
});

describe("a stream's bulk frames sent while its call is under way", () => {
  it("go to the Session in one call, each acknowledged in order, and are recorded whole", async () => {
    const { token, m, runtime, sessionId } = await sessionOnline(owner);
    const ref = await dispatchedIn(token, sessionId, runtime);
    runtime.ws.send(JSON.stringify(startedFrame(ref)));
    await runtime.box.until((items) => items.some((f) => f.t === "ack" && f.started));
    // The Machine's calls to the Session, as the output frames each carried; the first one is held until the frames
    // behind it have come (as they do while the Session commits a frame), so what they do then is what is checked.
    const outputsPerCall: number[] = [];
    type Calls = { runtimeFrames: (machineId: string, parts: { t: string }[]) => Promise<unknown> };
    type Internals = { sessionStub: (id: string) => Calls; riders: Map<string, { next: unknown[] }> };
    await runInDurableObject(env.MACHINE.get(env.MACHINE.idFromName(m.machineId)), (instance) => {
      const machine = instance as unknown as Internals;
      const stubOf = machine.sessionStub.bind(machine);
      machine.sessionStub = (id) => ({
        runtimeFrames: async (machineId, parts) => {
          outputsPerCall.push(parts.filter((p) => p.t === "output").length);
          // Held until the frames behind it wait for it, or another call went (then they did not wait, and the
          // Session is sent them ahead of this one: they are never acknowledged, and the test fails).
          if (outputsPerCall.length === 1)
            while (outputsPerCall.length === 1 && (machine.riders.get(id)?.next.length ?? 0) < FRAMES - 1)
              await new Promise((r) => setTimeout(r, 1));
          return stubOf(id).runtimeFrames(machineId, parts);
        },
      });
    });
    const blob = blobOf(11);
    for (let i = 0; i < FRAMES; i++) {
      const offset = i * FRAME;
      runtime.ws.send(
        encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset }, blob.subarray(offset, offset + FRAME)),
      );
    }
    const sha = toHex(await sha256(blob));
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: blob.length, stdoutSha256: sha })));
    await allAcknowledged(runtime, [ref], [ref]);
    // One frame, then the rest together (FRAMES × FRAME is within the Machine's bound for one call).
    expect(outputsPerCall.filter((n) => n > 0)).toEqual([1, FRAMES - 1]);
    await recordedWhole(token, ref, blob);
  });
});

describe("a session's frames sent while its call is under way", () => {
  const lines = ["one\n", "two\n", "three\n"].map((l) => new TextEncoder().encode(l));
  const all = new TextEncoder().encode("one\ntwo\nthree\n");
  const outputOf = (ref: Ref) => {
    let offset = 0;
    return lines.map((l) => {
      const header = { t: "output" as const, ...ref, stream: "stdout" as const, offset };
      offset += l.length;
      return { header, bytes: l };
    });
  };

  it("are each acknowledged in order, a refused one alone, and recorded whole", async () => {
    // Sent back to back: all but the first wait for the call under way and go to the Session together.
    const { token, runtime, sessionId } = await sessionOnline(owner);
    const ref = await dispatchedIn(token, sessionId, runtime);
    runtime.ws.send(JSON.stringify(startedFrame(ref)));
    const [first, ...rest] = outputOf(ref);
    if (!first) throw new Error("no output");
    runtime.ws.send(encodeOutputFrame(first.header, first.bytes));
    // A frame of a command this session does not have, amid the others: refused, and only it.
    runtime.ws.send(JSON.stringify(startedFrame({ sessionId, commandId: newId("cmd") })));
    for (const o of rest) runtime.ws.send(encodeOutputFrame(o.header, o.bytes));
    const sha = toHex(await sha256(all));
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: all.length, stdoutSha256: sha })));
    await runtime.box.until((items) => items.some((f) => f.t === "ack" && f.finished), 30_000);
    const answers = runtime.box.items.filter((f) => f.t === "ack" || f.t === "error");
    expect(answers.map((f) => (f.t === "ack" ? [f.started, f.stdout, f.finished] : [f.t, f.code]))).toEqual([
      [true, 0, false],
      [true, 4, false],
      ["error", "not_found"],
      [true, 8, false],
      [true, 14, false],
      [true, 14, true],
    ]);
    await recordedWhole(token, ref, all);
  });

  it("are applied by the Session in one call, in order, each answered as its own call would be", async () => {
    const { token, m, runtime, sessionId } = await sessionOnline(owner);
    const ref = await dispatchedIn(token, sessionId, runtime);
    const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
    const sha = toHex(await sha256(all));
    const answer = await stub.runtimeFrames(m.machineId, [
      { t: "frame", frame: startedFrame(ref) },
      ...outputOf(ref).map((o) => ({ t: "output" as const, ...o })),
      // Again (a resend after a lost ack): skipped, acknowledged as committed.
      ...outputOf(ref)
        .slice(0, 1)
        .map((o) => ({ t: "output" as const, ...o })),
      { t: "frame", frame: startedFrame({ sessionId, commandId: newId("cmd") }) },
      { t: "frame", frame: finishedFrame(ref, { stdoutBytes: all.length, stdoutSha256: sha }) },
    ]);
    if (!answer.ok) throw new Error(answer.message);
    expect(answer.value.map((r) => (r.ok ? [r.value.started, r.value.stdout, r.value.finished] : r.code))).toEqual([
      [true, 0, false],
      [true, 4, false],
      [true, 8, false],
      [true, 14, false],
      [true, 14, false],
      "not_found",
      [true, 14, true],
    ]);
    await recordedWhole(token, ref, all);
  });
});

/** A command requested in the session and dispatched to its runtime. */
async function dispatchedIn(token: string, sessionId: string, runtime: Runtime): Promise<Ref> {
  const { commandId } = await json(
    await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: "cat blob" } }),
    202,
  );
  await runtime.box.until((items) => items.some((f) => f.t === "dispatch" && f.commandId === commandId));
  return { sessionId, commandId };
}
