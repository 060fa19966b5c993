// Output is stored as raw bytes beside its record line (the line kept with its data empty) and the exact line is
// rebuilt on read; rows written before that keep their whole line. Either way, and both in one session (in one stream
// even), the session reads as one record: the same lines, an unbroken chain, the exact bytes and their digest.

import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import {
  encodeOutputFrame,
  encodeOutputRecord,
  fromBase64,
  LIMITS,
  OUTPUT_LINE_END,
  outputLineHead,
  splitRecordLines,
  toBase64,
  toHex,
  utf8,
  verifyChain,
  withOutputData,
} from "@caisey/core";
import { describe, expect, it } from "vitest";
import { sha256, sha256AroundBase64 } from "../src/crypto.ts";
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

const owner = ownerOnce("olivia@output-storage.test");
/** Every byte value, twice: output is bytes, not text. */
const BINARY = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
/** Bytes that differ from one another far apart (so a piece hashed twice or skipped changes the digest). */
const varied = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + (i >> 8) * 7 + (i >> 16)) & 0xff);

type OutputRow = { seq: number; record: string; output: ArrayBuffer | null };

async function runningCommand(token: string) {
  const m = await enrollMachine(token);
  const runtime = await connectRuntime(m);
  const { id: sessionId } = await json(
    await call("/api/v1/sessions", { token, body: { machineId: m.machineId } }),
    201,
  );
  const sessionPath = `/api/v1/sessions/${sessionId}`;
  const { commandId } = await json(
    await call(`${sessionPath}/commands`, { token, body: { command: "cat blob" } }),
    202,
  );
  expect(await runtime.box.next()).toMatchObject({ t: "dispatch", commandId });
  const ref = { sessionId, commandId };
  runtime.ws.send(JSON.stringify(startedFrame(ref)));
  expect(await runtime.box.next()).toMatchObject({ t: "ack", started: true });
  const send = async (stream: "stdout" | "stderr", offset: number, bytes: Uint8Array, committed: number) => {
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream, offset }, bytes));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", [stream]: committed });
  };
  const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
  const outputRows = () =>
    runInDurableObject(stub, (_instance, state) =>
      state.storage.sql
        .exec<OutputRow>("SELECT seq, record, output FROM events WHERE type = 'command.output' ORDER BY seq")
        .toArray(),
    );
  return { runtime, sessionId, sessionPath, ref, send, stub, outputRows };
}

async function bytesOf(path: string, token: string): Promise<Uint8Array> {
  const res = await call(path, { token });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

describe("output stored beside its record line", () => {
  it("keeps the bytes raw and serves the exact line, hashed as the chain holds it", async () => {
    const token = await owner();
    const { runtime, sessionId, sessionPath, ref, send, outputRows } = await runningCommand(token);
    await send("stdout", 0, BINARY.subarray(0, 300), 300);
    // Overlapping a resend: only the new part is committed (a view into the frame, not the frame).
    await send("stdout", 200, BINARY.subarray(200), 512);
    await send("stderr", 0, utf8("warn\n"), 5);

    const rows = await outputRows();
    expect(rows.map((r) => [r.record.endsWith(`"data":""}}`), new Uint8Array(r.output as ArrayBuffer)])).toEqual([
      [true, BINARY.subarray(0, 300)],
      [true, BINARY.subarray(300)],
      [true, utf8("warn\n")],
    ]);

    const { events } = await json(await call(`${sessionPath}/events`, { token }), 200);
    const output = events.filter((e: { type: string }) => e.type === "command.output");
    expect(
      output.map((e: { data: { offset: number; data: string } }) => [e.data.offset, fromBase64(e.data.data)]),
    ).toEqual([
      [0, BINARY.subarray(0, 300)],
      [300, BINARY.subarray(300)],
      [0, utf8("warn\n")],
    ]);
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: 512, stderrBytes: 5 })));
    expect(await runtime.box.next()).toMatchObject({ finished: true });

    const record = new TextDecoder().decode(await bytesOf(`${sessionPath}/record`, token));
    const lines = splitRecordLines(record);
    expect(verifyChain(sha256, sessionId, lines)).toMatchObject({ ok: true, count: lines.length });
    // The events API serves the record's own lines with their chain hash spliced in.
    const served = events.map((e: { hash: string }) => JSON.stringify({ ...e, hash: undefined }));
    expect(lines.slice(0, served.length)).toEqual(served);
    const finished = JSON.parse(lines.at(-1) as string);
    expect(finished.data).toMatchObject({
      stdoutSha256: toHex(sha256(BINARY)),
      stderrSha256: toHex(sha256(utf8("warn\n"))),
    });
    expect(await bytesOf(`${sessionPath}/commands/${ref.commandId}/output?stream=stdout`, token)).toEqual(BINARY);
    runtime.ws.close();
  });

  it("hashes an output line around its bytes to the digest of the exact line, at every piece boundary", () => {
    const empty = encodeOutputRecord(7, "2026-01-02T03:04:05.006Z", "machine:mch_x", {
      commandId: "cmd_y",
      stream: "stdout",
      offset: 12,
      data: "",
    });
    const piece = 3 * 16 * 1024;
    for (const length of [1, 2, 3, 4, piece - 1, piece, piece + 1, piece + 2, 3 * piece + 2, 512 * 1024]) {
      const bytes = varied(length);
      const line = withOutputData(empty, toBase64(bytes));
      expect([length, toHex(sha256AroundBase64(outputLineHead(empty), bytes, OUTPUT_LINE_END))]).toEqual([
        length,
        toHex(sha256(utf8(line))),
      ]);
    }
    expect(() => outputLineHead(withOutputData(empty, "AAAA"))).toThrow(/data left empty/);
  });

  it("chains a frame larger than a hashed piece over its exact line", async () => {
    const token = await owner();
    const { runtime, sessionId, sessionPath, ref, send } = await runningCommand(token);
    const big = varied(300 * 1024 + 1);
    await send("stdout", 0, big.subarray(0, 5), 5);
    await send("stdout", 0, big, big.length); // the first 5 bytes again: only the rest is committed
    const { events } = await json(await call(`${sessionPath}/events`, { token }), 200);
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: big.length, stderrBytes: 0 })));
    expect(await runtime.box.next()).toMatchObject({ finished: true });

    const lines = splitRecordLines(new TextDecoder().decode(await bytesOf(`${sessionPath}/record`, token)));
    expect(verifyChain(sha256, sessionId, lines)).toMatchObject({ ok: true, count: lines.length });
    const output = lines.map((l) => JSON.parse(l)).filter((e) => e.type === "command.output");
    expect(output.map((e) => [e.data.offset, toHex(sha256(fromBase64(e.data.data)))])).toEqual([
      [0, toHex(sha256(big.subarray(0, 5)))],
      [5, toHex(sha256(big.subarray(5)))],
    ]);
    // The hash the events API serves with each line is the chain's at that line.
    const served = events.map((e: { hash: string }) => JSON.stringify({ ...e, hash: undefined }));
    expect(lines.slice(0, served.length)).toEqual(served);
    for (const [i, e] of events.entries())
      expect(verifyChain(sha256, sessionId, lines.slice(0, i + 1))).toMatchObject({ ok: true, head: { hash: e.hash } });
    runtime.ws.close();
  });

  it("serves events and output in pages bounded in bytes: large output pages on from the last seq, to the exact record", async () => {
    const token = await owner();
    const { runtime, sessionId, sessionPath, ref, send } = await runningCommand(token);
    const frame = LIMITS.outputChunkBytes;
    const big = varied(6 * frame);
    for (let at = 0; at < big.length; at += frame) await send("stdout", at, big.subarray(at, at + frame), at + frame);
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: big.length, stderrBytes: 0 })));
    expect(await runtime.box.next()).toMatchObject({ finished: true });

    const lines = splitRecordLines(new TextDecoder().decode(await bytesOf(`${sessionPath}/record`, token)));
    const pages: number[] = [];
    const served: { seq: number; type: string; hash: string }[] = [];
    for (let after = 0; served.length < lines.length; ) {
      const { events } = await json(await call(`${sessionPath}/events?after=${after}&limit=1000`, { token }), 200);
      expect(events.length).toBeGreaterThan(0);
      pages.push(events.length);
      served.push(...events);
      after = (events.at(-1) as { seq: number }).seq;
    }
    // Each 512 KiB frame is a ~700 KB line: three make a page (2 MiB of messages), not all of them at once.
    expect(served.filter((e) => e.type === "command.output").length).toBe(6);
    expect(pages.length).toBeGreaterThan(1);
    expect(served.map((e) => JSON.stringify({ ...e, hash: undefined }))).toEqual(lines);
    expect(verifyChain(sha256, sessionId, lines)).toMatchObject({ ok: true, head: { hash: served.at(-1)?.hash } });
    // The output download pages its rows' bytes too (3 MiB: more than one page of the Session's).
    expect(await bytesOf(`${sessionPath}/commands/${ref.commandId}/output?stream=stdout`, token)).toEqual(big);
    runtime.ws.close();
  });

  it("reads a stream's command as its last commit left it, and as its finish left it after that", async () => {
    const token = await owner();
    const { runtime, ref, send, outputRows } = await runningCommand(token);
    await send("stdout", 0, BINARY.subarray(0, 100), 100);
    await send("stdout", 100, BINARY.subarray(100, 200), 200); // the row the first commit left
    await send("stderr", 0, utf8("e"), 1);
    await send("stdout", 200, BINARY.subarray(200, 300), 300); // the other stream's commit counted stdout too
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: 300, stderrBytes: 1 })));
    expect(await runtime.box.next()).toMatchObject({ finished: true, stdout: 300, stderr: 1 });
    // The next frame of the stream comes after the finish: skipped (final), nothing more recorded.
    runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 300 }, BINARY.subarray(300)));
    expect(await runtime.box.next()).toMatchObject({ t: "ack", finished: true, stdout: 300, stderr: 1 });
    expect((await outputRows()).map((r) => new Uint8Array(r.output as ArrayBuffer))).toEqual([
      BINARY.subarray(0, 100),
      BINARY.subarray(100, 200),
      utf8("e"),
      BINARY.subarray(200, 300),
    ]);
    runtime.ws.close();
  });

  it("reads rows written before (whole lines) and after (bytes beside the line) as one record, in one stream", async () => {
    const token = await owner();
    const { runtime, sessionId, sessionPath, ref, send, stub, outputRows } = await runningCommand(token);
    const first = BINARY.subarray(0, 256);
    const second = utf8("after the upgrade\n");
    await send("stdout", 0, first, 256);
    await send("stderr", 0, utf8("warn\n"), 5);

    // The same rows as the release before this storage would have written them; the object starts again on them.
    await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      const rows = sessionRows(sql);
      const beside = MIGRATIONS.findIndex((m) => m.name === "output bytes beside the record line");
      await previousRelease(state, MIGRATIONS, beside);
      restoreRows(sql, rows);
    });
    await evictDurableObject(stub);
    const before = await outputRows();
    expect(before.map((r) => r.output)).toEqual([null, null]);
    expect(before.map((r) => r.record.endsWith(`"data":""}}`))).toEqual([false, false]);
    const recordBefore = new TextDecoder().decode(await bytesOf(`${sessionPath}/record`, token));

    // The stream goes on under this release: its digest covers the bytes of both forms.
    await send("stdout", 256, second, 256 + second.length);
    const rows = await outputRows();
    expect(rows.map((r) => r.output === null)).toEqual([true, true, false]);
    runtime.ws.send(JSON.stringify(finishedFrame(ref, { stdoutBytes: 256 + second.length, stderrBytes: 5 })));
    expect(await runtime.box.next()).toMatchObject({ finished: true });

    const record = new TextDecoder().decode(await bytesOf(`${sessionPath}/record`, token));
    expect(record.startsWith(recordBefore)).toBe(true);
    const lines = splitRecordLines(record);
    expect(verifyChain(sha256, sessionId, lines)).toMatchObject({ ok: true, count: lines.length });
    const outputLines = lines.map((l) => JSON.parse(l)).filter((e) => e.type === "command.output");
    expect(outputLines.map((e) => [e.data.stream, e.data.offset, fromBase64(e.data.data)])).toEqual([
      ["stdout", 0, first],
      ["stderr", 0, utf8("warn\n")],
      ["stdout", 256, second],
    ]);
    const finished = JSON.parse(lines.at(-1) as string);
    expect(finished.data.stdoutSha256).toBe(toHex(sha256(concat(first, second))));
    expect(await bytesOf(`${sessionPath}/commands/${ref.commandId}/output?stream=stdout`, token)).toEqual(
      concat(first, second),
    );
    runtime.ws.close();
  });
});
