// Hostile peers: fuzzed and malformed HTTP bodies to every state-changing route, and bursts of malformed runtime
// frames. Every one gets the contract's error (never a 500), changes nothing, and the server keeps serving with
// every record's chain intact.

import "../src/index.ts";
import { encodeOutputFrame, splitRecordLines, toBase64, utf8, verifyChain } from "@caisey/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import { ROUTES } from "../src/routes/table.ts";
import { call, finishedFrame, json, ownerOnce, sessionOnline, startedFrame, worker } from "./harness.ts";

const owner = ownerOnce("olivia@hostile.test");

async function world() {
  const { token, m, runtime, sessionId } = await sessionOnline(owner);
  const { commandId } = await json(
    await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: "echo ok" } }),
    202,
  );
  await runtime.box.until((i) => i.some((f) => f.t === "dispatch"));
  return { token, m, runtime, sessionId, commandId };
}

async function recordIntact(token: string, sessionId: string) {
  const ndjson = await (await call(`/api/v1/sessions/${sessionId}/record`, { token })).text();
  const { session } = await json(await call(`/api/v1/sessions/${sessionId}`, { token }), 200);
  const check = verifyChain(sha256, sessionId, splitRecordLines(ndjson));
  expect(check).toEqual({ ok: true, head: session.head, count: session.head.seq });
  return session.head as { seq: number; hash: string };
}

const ALLOWED_REFUSALS = new Set([400, 401, 403, 404, 409, 413, 415, 422, 426, 429]);

describe("hostile HTTP input", () => {
  it("answers fuzzed bodies on every POST route with a contract error and changes no record", async () => {
    const w = await world();
    const before = await recordIntact(w.token, w.sessionId);
    // Not the sign-out routes: a fuzzed body may legitimately sign the fuzzer out.
    const posts = ROUTES.filter((r) => r.method === "post" && !r.path.startsWith("/api/v1/auth/")).map((r) =>
      r.path
        .replace(
          ":id",
          r.path.includes("/sessions/")
            ? w.sessionId
            : r.path.includes("/machines/")
              ? w.m.machineId
              : r.path.includes("/clients/")
                ? w.m.clientId
                : "usr_aaaaaaaaaaaaaaaaaaaa",
        )
        .replace(":cid", w.commandId),
    );
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc
        .record({
          command: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          shell: fc.string(),
          text: fc.oneof(fc.string({ maxLength: 5000 }), fc.integer()),
        })
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...posts), bodies, async (path, body) => {
        // Bodies that are valid by chance on harmless routes may succeed; what matters is: no 5xx, a contract error.
        const res = await worker.fetch(`https://caisey.test${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${w.token}`, "content-type": "application/json" },
          body,
        });
        const text = await res.text();
        if (res.status >= 500) throw new Error(`${path} → ${res.status} ${text}`);
        if (res.status >= 400) {
          expect(ALLOWED_REFUSALS.has(res.status)).toBe(true);
          const err = JSON.parse(text);
          expect(Object.keys(err)).toEqual(["error"]);
          expect([typeof err.error.code, typeof err.error.message]).toEqual(["string", "string"]);
        }
      }),
      { numRuns: 300 },
    );
    // Fuzzing may add messages or commands through valid bodies; it must never break the chain.
    const after = await recordIntact(w.token, w.sessionId);
    expect(after.seq).toBeGreaterThanOrEqual(before.seq);
  });

  it("refuses oversized, non-JSON, invalid UTF-8 and unknown requests without side effects", async () => {
    const w = await world();
    const before = await recordIntact(w.token, w.sessionId);
    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      worker.fetch(`https://caisey.test/api/v1/sessions/${w.sessionId}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${w.token}`, "content-type": "application/json", ...headers },
        body,
      });
    const cases: [string, Promise<Response>, number, string][] = [
      ["oversized", post(JSON.stringify({ text: "x".repeat(70_000) })), 413, "body_too_large"],
      [
        "invalid UTF-8",
        post(new Uint8Array([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
        400,
        "invalid_utf8",
      ],
      ["malformed JSON", post('{"text": "unterminated'), 400, "malformed_json"],
      ["wrong type", post(JSON.stringify({ text: 42 })), 422, "invalid_request"],
      [
        "not JSON",
        post("text=hi", { "content-type": "application/x-www-form-urlencoded" }),
        415,
        "unsupported_media_type",
      ],
      ["empty text", post(JSON.stringify({ text: "   " })), 422, "invalid_request"],
      [
        "unknown route",
        worker.fetch("https://caisey.test/api/v1/nope", { headers: { authorization: `Bearer ${w.token}` } }),
        404,
        "not_found",
      ],
      [
        "bad id",
        worker.fetch("https://caisey.test/api/v1/sessions/ses_'or'1'='1", {
          headers: { authorization: `Bearer ${w.token}` },
        }),
        404,
        "not_found",
      ],
      [
        "bad query",
        worker.fetch(`https://caisey.test/api/v1/sessions/${w.sessionId}/events?after=-1`, {
          headers: { authorization: `Bearer ${w.token}` },
        }),
        400,
        "invalid_query",
      ],
      [
        "huge header",
        worker.fetch(`https://caisey.test/api/v1/machines`, {
          headers: { authorization: `Bearer ${"x".repeat(60_000)}` },
        }),
        401,
        "unauthenticated",
      ],
    ];
    for (const [what, pending, status, code] of cases) {
      const res = await pending;
      const body = (await res.json()) as { error: { code: string } };
      expect([what, res.status, body.error.code]).toEqual([what, status, code]);
    }
    expect(await recordIntact(w.token, w.sessionId)).toEqual(before);
  });
});

describe("hostile runtime frames", () => {
  it("survives a burst of malformed, out-of-order and duplicate frames: errors, no records, still serving", async () => {
    const w = await world();
    const ref = { sessionId: w.sessionId, commandId: w.commandId };
    const before = await recordIntact(w.token, w.sessionId);
    const sent = w.runtime.box.items.length;
    const header = { t: "output" as const, ...ref, stream: "stdout" as const, offset: 0 };
    const headerJson = utf8(JSON.stringify(header));
    const started = startedFrame(ref);
    const finished = finishedFrame(ref, { stdoutBytes: 3 });
    const bad: (string | Uint8Array)[] = [
      "{",
      "null",
      "[]",
      JSON.stringify({ t: "nope" }),
      JSON.stringify({ t: "hello", v: 1 }),
      JSON.stringify({ t: "hello", v: 1, machineId: w.m.machineId, signature: "A".repeat(86), facts: w.m.facts }), // replayed hello
      JSON.stringify({ t: "output", ...ref, stream: "stdout", offset: 0, data: toBase64(utf8("early")) }), // output is binary
      encodeOutputFrame(header, utf8("early")), // before started
      encodeOutputFrame({ ...header, sessionId: "ses_aaaaaaaaaaaaaaaaaaaa" }, utf8("x")), // another session
      new Uint8Array([0]),
      new Uint8Array([0xff, 0xff, 1, 2, 3]),
      new Uint8Array([0, headerJson.length, ...headerJson]), // no bytes
      new Uint8Array([0, 3, 0x7b, 0xc3, 0x7d, 1]), // header not UTF-8
      encodeOutputFrame({ ...header, stream: "stdin" } as never, utf8("x")),
      encodeOutputFrame({ ...header, offset: -5 }, utf8("x")),
      new Uint8Array(600_000),
      JSON.stringify({ ...started, sessionId: "ses_aaaaaaaaaaaaaaaaaaaa" }), // another session
      JSON.stringify({ ...finished, commandId: "cmd_aaaaaaaaaaaaaaaaaaaa", stdoutBytes: 0, durationMs: 0 }), // unknown
      "x".repeat(600_000),
    ];
    for (let round = 0; round < 5; round++) for (const frame of bad) w.runtime.ws.send(frame);
    await w.runtime.box.until((items) => items.length - sent >= bad.length * 5, 15_000);
    const answers = w.runtime.box.items.slice(sent);
    expect(answers.every((a) => a.t === "error" && typeof a.code === "string" && typeof a.message === "string")).toBe(
      true,
    );
    expect(new Set(answers.map((a) => a.code))).toEqual(
      new Set(["bad_frame", "invalid_frame", "already_authenticated", "not_started", "not_found", "frame_too_large"]),
    );
    expect(await recordIntact(w.token, w.sessionId)).toEqual(before);

    // The same socket still works: the command runs to completion, exactly once.
    w.runtime.ws.send(JSON.stringify(started));
    w.runtime.ws.send(JSON.stringify(started)); // a duplicate: acknowledged, not recorded again
    w.runtime.ws.send(encodeOutputFrame(header, utf8("ok\n")));
    w.runtime.ws.send(encodeOutputFrame(header, utf8("ok\n"))); // a duplicate: acknowledged, not recorded again
    w.runtime.ws.send(JSON.stringify(finished));
    await w.runtime.box.until((items) => items.some((a) => a.t === "ack" && a.finished));
    const after = await recordIntact(w.token, w.sessionId);
    expect(after.seq).toBe(before.seq + 3); // started, one output, finished — duplicates recorded nothing
  });
});
