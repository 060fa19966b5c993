// Inside workerd: a simulated runtime (a real Ed25519 key, the real WebSocket route) drives a session, and the
// record that comes out is checked: sequence, hash chain, dedup of resent output, resume with after=.

import { encodeOutputFrame, fromBase64, splitRecordLines, toBase64Url, toHex, utf8, verifyChain } from "@caisey/core";
import { describe, expect, it } from "vitest";
import { sha256 } from "../src/crypto.ts";
import {
  call,
  connectRuntime,
  dispatchVerifies,
  enrollMachine,
  finishedFrame,
  inbox,
  json,
  ownerOnce,
  startedFrame,
} from "./harness.ts";

const owner = ownerOnce("olivia@northwind.test");

async function enrolledMachine(token: string) {
  const m = await enrollMachine(token);
  return {
    ...m,
    connect: async () => {
      const { ws, box } = await connectRuntime(m);
      return { ws, f: box };
    },
  };
}

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const hex = (text: string) => toHex(sha256(utf8(text)));

describe("session record in workerd", () => {
  it("appends every event in order with an unbroken hash chain, dedups resent output, and resumes after=", async () => {
    const token = await owner();
    const m = await enrolledMachine(token);
    const runtime = await m.connect();
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token, body: { machineId: m.machineId, ticket: "T-100" } }),
      201,
    );
    const { commandId, state } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token, body: { command: "echo hi", shell: "bash" } }),
      202,
    );
    expect(state).toBe("queued");

    const dispatch = await runtime.f.next();
    expect(await dispatchVerifies(m, dispatch)).toBe(true);
    expect(await dispatchVerifies(m, { ...dispatch, command: "echo pwned" })).toBe(false);
    expect(dispatch).toEqual({
      t: "dispatch",
      sessionId,
      commandId,
      command: "echo hi",
      shell: "bash",
      timeoutSeconds: null,
      resume: false,
      technicianId: expect.stringMatching(/^usr_/),
      approvalRequired: false,
      approval: null,
      signature: dispatch.signature,
    });
    const ref = { sessionId, commandId };
    runtime.ws.send(
      JSON.stringify(
        startedFrame(ref, {
          pid: 42,
          user: "tech",
          cwd: "/home/tech",
          executable: "/usr/bin/bash",
          shellVersion: "5.2",
          env: { PATH: "/usr/bin" },
        }),
      ),
    );
    expect(await runtime.f.next()).toEqual({ t: "ack", ...ref, started: true, stdout: 0, stderr: 0, finished: false });
    const out = (offset: number, text: string, stream: "stdout" | "stderr" = "stdout") =>
      encodeOutputFrame({ t: "output", ...ref, stream, offset }, utf8(text));
    // Output as JSON text (base64) is not a frame the server takes: refused, nothing recorded.
    runtime.ws.send(JSON.stringify({ t: "output", ...ref, stream: "stdout", offset: 0, data: "aGVsCg==" }));
    expect(await runtime.f.next()).toEqual({
      t: "error",
      code: "invalid_frame",
      message: "t: Invalid discriminator value. Expected 'hello' | 'started' | 'finished' | 'prestate'",
    });
    runtime.ws.send(out(0, "hel"));
    expect(await runtime.f.next()).toMatchObject({ stdout: 3 });
    runtime.ws.send(out(0, "hel")); // a resend after a reconnect: already committed
    expect(await runtime.f.next()).toMatchObject({ stdout: 3 });
    runtime.ws.send(out(1, "ello\n")); // overlaps: only "lo\n" is new
    expect(await runtime.f.next()).toMatchObject({ stdout: 6 });
    runtime.ws.send(out(0, "oops\n", "stderr"));
    expect(await runtime.f.next()).toMatchObject({ stdout: 6, stderr: 5 });
    const finished = finishedFrame(ref, {
      stdoutBytes: 6,
      stderrBytes: 5,
      stdoutSha256: hex("hello\n"),
      stderrSha256: EMPTY, // wrong on purpose: the record keeps its own hash and says what differs
      durationMs: 12,
    });
    runtime.ws.send(JSON.stringify({ ...finished, stdoutBytes: 7 })); // claims more than committed: not finished yet
    expect(await runtime.f.next()).toMatchObject({ finished: false, stdout: 6 });
    runtime.ws.send(JSON.stringify(finished));
    expect(await runtime.f.next()).toMatchObject({ finished: true });

    const output = await call(`/api/v1/sessions/${sessionId}/commands/${commandId}/output?stream=stdout`, { token });
    expect(new Uint8Array(await output.arrayBuffer())).toEqual(utf8("hello\n"));

    const { events, head } = await json(await call(`/api/v1/sessions/${sessionId}/events`, { token }), 200);
    expect(events.map((e: any) => e.type)).toEqual([
      "session.opened",
      "command.requested",
      "command.started",
      "command.output",
      "command.output",
      "command.output",
      "command.finished",
    ]);
    expect(events.map((e: any) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(
      events
        .slice(3, 6)
        .map((e: any) => [e.data.stream, e.data.offset, new TextDecoder().decode(fromBase64(e.data.data))]),
    ).toEqual([
      ["stdout", 0, "hel"],
      ["stdout", 3, "lo\n"],
      ["stderr", 0, "oops\n"],
    ]);
    expect(events[6].data).toEqual({
      commandId,
      state: "finished",
      exitCode: 0,
      signal: null,
      reason: `the endpoint's stderr SHA-256 ${EMPTY} differs from the record's`,
      stdoutBytes: 6,
      stderrBytes: 5,
      stdoutSha256: hex("hello\n"),
      stderrSha256: hex("oops\n"),
      durationMs: 12,
    });

    const record = await (await call(`/api/v1/sessions/${sessionId}/record`, { token })).text();
    const lines = splitRecordLines(record);
    const check = verifyChain(sha256, sessionId, lines);
    expect(check).toEqual({ ok: true, head, count: 7 });
    expect(events.map((e: any) => e.hash).at(-1)).toBe(head.hash);
    // Each event served by /events is its record line plus the hash, byte for byte.
    for (const [i, line] of lines.entries()) {
      expect(JSON.stringify(events[i])).toBe(`${line.slice(0, -1)},"hash":"${events[i].hash}"}`);
    }

    // Resume: after=4 yields exactly seq 5.. in order, then live events as they are appended.
    const live = await call(`/api/v1/sessions/${sessionId}/live?after=4`, { token, headers: { upgrade: "websocket" } });
    expect(live.status).toBe(101);
    const ws = live.webSocket as WebSocket;
    ws.accept();
    const lf = inbox(ws);
    expect((await lf.next()).seq).toBe(5);
    expect((await lf.next()).seq).toBe(6);
    expect((await lf.next()).seq).toBe(7);
    expect(await lf.next()).toMatchObject({ seq: 8, type: "participant.joined", data: { name: "Olivia Owner" } });
    await json(await call(`/api/v1/sessions/${sessionId}/notes`, { token, body: { text: "spooler restarted" } }), 201);
    expect(await lf.next()).toMatchObject({ seq: 9, type: "note.added", data: { text: "spooler restarted" } });
    const paged = await json(await call(`/api/v1/sessions/${sessionId}/events?after=6&limit=1`, { token }), 200);
    expect(paged.events.map((e: any) => e.seq)).toEqual([7]);
    expect(paged.head.seq).toBe(9);
    ws.close();
    runtime.ws.close();
  });

  /** A runtime socket that has just been challenged, and the close code it ends with. */
  async function challenged() {
    const m = await enrolledMachine(await owner());
    const res = await call(`/api/v1/runtime/connect?machineId=${m.machineId}`, { headers: { upgrade: "websocket" } });
    const ws = res.webSocket as WebSocket;
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    ws.accept();
    await inbox(ws).next(); // the challenge
    return { m, ws, closed };
  }

  it("refuses a runtime that cannot prove its key", async () => {
    const { m, ws, closed } = await challenged();
    ws.send(
      JSON.stringify({
        t: "hello",
        v: 1,
        machineId: m.machineId,
        signature: toBase64Url(new Uint8Array(64)),
        facts: { hostname: "x", os: "linux", osVersion: "", arch: "x64", runtimeVersion: "0.1.0" },
      }),
    );
    expect(await closed).toBe(4401);
  });

  it("closes a socket that sends output before proving its key", async () => {
    const { ws, closed } = await challenged();
    const ref = { sessionId: "ses_aaaaaaaaaaaaaaaaaaaa", commandId: "cmd_aaaaaaaaaaaaaaaaaaaa" };
    ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: 0 }, utf8("x")));
    expect(await closed).toBe(4401);
  });

  it("answers authentication failures with 401 and the contract's error shape", async () => {
    const token = await owner();
    const cases: [string, Record<string, string>, number, string][] = [
      ["no credentials", {}, 401, "unauthenticated"],
      ["malformed header", { authorization: "Basic abc" }, 401, "unauthenticated"],
      ["unknown token", { authorization: `Bearer ${token.slice(0, -4)}AAAA` }, 401, "unauthenticated"],
      ["not a token", { authorization: "Bearer hello" }, 401, "unauthenticated"],
    ];
    for (const [what, headers, status, code] of cases) {
      const res = await call("/api/v1/machines", { headers });
      expect([what, res.status, ((await res.json()) as any).error.code]).toEqual([what, status, code]);
    }
    // The console cookie works for reads, but a state change without the CSRF header is refused.
    const cookie = { cookie: `caisey_token=${token}` };
    expect((await call("/api/v1/machines", { headers: cookie })).status).toBe(200);
    const noCsrf = await call("/api/v1/clients", { headers: cookie, body: { name: "X" } });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as any).error.code).toBe("csrf_required");
    expect(
      (await call("/api/v1/clients", { headers: { ...cookie, "x-caisey-csrf": "1" }, body: { name: "X" } })).status,
    ).toBe(201);
    // Wrong password, unknown email: same answer.
    for (const body of [
      { email: "olivia@northwind.test", password: "wrong password!" },
      { email: "nobody@northwind.test", password: "wrong password!" },
    ]) {
      const res = await call("/api/v1/auth/login", { body });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: { code: "invalid_credentials", message: "email or password is wrong" },
      });
    }
    // Logout revokes the token at once.
    const login = await json(
      await call("/api/v1/auth/login", { body: { email: "olivia@northwind.test", password: "correct horse battery" } }),
      200,
    );
    expect(login.user.role).toBe("owner");
    expect((await call("/api/v1/auth/logout", { token: login.token, method: "POST" })).status).toBe(204);
    expect((await call("/api/v1/me", { token: login.token })).status).toBe(401);
    // A second setup is a conflict.
    const again = await call("/api/v1/setup", {
      body: { organization: "Other", name: "Eve", email: "eve@other.test", password: "correct horse battery" },
    });
    expect(again.status).toBe(409);
  });
});
