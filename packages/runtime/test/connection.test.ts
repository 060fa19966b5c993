import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { authMessage, fromBase64Url, HelloFrame, LIMITS, type OutputFrame, utf8 } from "@caisey/core";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import {
  backoffDelay,
  connectUrl,
  DEFAULT_BACKOFF,
  FIRST_CONNECT,
  helloFrame,
  keepaliveAction,
  type ReconnectState,
  reconnectDelay,
} from "../src/connection.ts";
import { generateIdentity } from "../src/enroll.ts";
import { Runtime } from "../src/runtime.ts";
import { SEND_WINDOW_BYTES } from "../src/sender.ts";
import { FACTS, MACHINE, NONCE, type ReceivedFrame, receivedFrame, runtimeConfig, until } from "./fixtures.ts";
import { bashDispatch, testTenant } from "./tenant.ts";

describe("backoff", () => {
  it("uses full jitter under an exponential ceiling capped at 15 s", () => {
    const max = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 100].map((a) => backoffDelay(a, max))).toEqual([
      249, 499, 999, 1999, 3999, 7999, 14999, 14999, 14999, 14999,
    ]);
    expect(backoffDelay(5, () => 0)).toBe(0);
    expect(backoffDelay(2, () => 0.5)).toBe(500);
  });
});

/** The waits before each attempt, for connections that ended after `ups` (null: the attempt failed). */
function waits(ups: (number | null)[], random: () => number, from: ReconnectState = FIRST_CONNECT): number[] {
  let state = from;
  return ups.map((upForMs) => {
    const next = reconnectDelay(state, upForMs, random, DEFAULT_BACKOFF);
    state = next.state;
    return next.delayMs;
  });
}

describe("reconnectDelay", () => {
  const max = () => 0.999999;

  it("waits 100–500 ms for three attempts after a healthy connection, then backs off from 250 ms again", () => {
    // A server that restarts after a connection of 1 h: the link drops, then three failed attempts, then more.
    const restart = [3_600_000, null, null, null, null, null, null];
    expect(waits(restart, max)).toEqual([499, 499, 499, 249, 499, 999, 1999]);
    expect(waits(restart, () => 0)).toEqual([100, 100, 100, 0, 0, 0, 0]);
    expect(waits(restart, () => 0.5)).toEqual([300, 300, 300, 125, 250, 500, 1000]);
    // Healthy is 3 s up; anything shorter continues the backoff where it stood.
    expect(waits([null, null, null, null, 2_999], max)).toEqual([249, 499, 999, 1999, 3999]);
    expect(waits([null, null, null, null, 3_000], max)).toEqual([249, 499, 999, 1999, 499]);
    // A connection that is dropped at once during the quick attempts uses up one of them, no more.
    expect(waits([60_000, 10, 10, 10, 10], max)).toEqual([499, 499, 499, 249, 499]);
  });

  it("never gets quick for a server that stays down from the start: full jitter, capped at 15 s", () => {
    expect(waits(Array(10).fill(null), max)).toEqual([249, 499, 999, 1999, 3999, 7999, 14999, 14999, 14999, 14999]);
  });

  const outcome = fc.option(fc.integer({ min: 0, max: 86_400_000 }), { nil: null });
  const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

  it("stays within [0, 15 s), and within [100, 500) ms right after a healthy connection (property)", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 40 }), fc.array(random, { minLength: 1 }), (ups, draws) => {
        let i = 0;
        let state = FIRST_CONNECT;
        for (const upForMs of ups) {
          const next = reconnectDelay(state, upForMs, () => draws[i++ % draws.length] as number);
          expect(next.delayMs).toBeGreaterThanOrEqual(0);
          expect(next.delayMs).toBeLessThan(DEFAULT_BACKOFF.capMs);
          if (upForMs !== null && upForMs >= DEFAULT_BACKOFF.healthyAfterMs) {
            expect(next.delayMs).toBeGreaterThanOrEqual(100);
            expect(next.delayMs).toBeLessThan(500);
          }
          state = next.state;
        }
      }),
    );
  });

  it("grows while the server stays down, whatever came before, with at most three quick attempts (property)", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 40 }), random, (before, r) => {
        let state = FIRST_CONNECT;
        for (const upForMs of before) state = reconnectDelay(state, upForMs, () => r).state;
        const down = waits(Array(30).fill(null), () => r, state);
        const quick = Math.min(state.quick, DEFAULT_BACKOFF.quickAttempts);
        const slow = down.slice(quick);
        for (let k = 1; k < slow.length; k++) expect(slow[k]).toBeGreaterThanOrEqual(slow[k - 1] as number);
        expect(down.at(-1)).toBe(Math.floor(r * DEFAULT_BACKOFF.capMs));
      }),
    );
  });
});

describe("keepaliveAction", () => {
  it("pings every 20 s and gives up after 45 s of silence", () => {
    expect(keepaliveAction(19_999, 0, 0)).toBe("wait");
    expect(keepaliveAction(20_000, 0, 0)).toBe("ping");
    expect(keepaliveAction(30_000, 20_000, 0)).toBe("wait");
    expect(keepaliveAction(44_999, 40_000, 0)).toBe("wait");
    expect(keepaliveAction(44_999, 20_000, 0)).toBe("ping");
    expect(keepaliveAction(45_000, 40_000, 0)).toBe("dead");
    expect(keepaliveAction(45_000, 40_000, 30_000)).toBe("wait");
  });
});

describe("connectUrl", () => {
  it("maps http(s) to ws(s) and appends the connect route", () => {
    expect(connectUrl("http://127.0.0.1:8787", MACHINE)).toBe(
      `ws://127.0.0.1:8787/api/v1/runtime/connect?machineId=${MACHINE}`,
    );
    expect(connectUrl("https://caisey.example.com/base/", MACHINE)).toBe(
      `wss://caisey.example.com/base/api/v1/runtime/connect?machineId=${MACHINE}`,
    );
    expect(() => connectUrl("ftp://x", MACHINE)).toThrow("unsupported server URL: ftp://x");
  });
});

describe("helloFrame", () => {
  it("signs authMessage(machineId, nonce) with Ed25519, base64url without padding", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const hello = helloFrame(MACHINE, NONCE, privateKey, FACTS);
    expect(HelloFrame.parse(hello)).toEqual(hello);
    expect(hello).toMatchObject({ t: "hello", v: 1, machineId: MACHINE, facts: FACTS });
    expect(hello.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const signature = fromBase64Url(hello.signature);
    expect(verify(null, utf8(authMessage(MACHINE, NONCE)), publicKey, signature)).toBe(true);
    expect(verify(null, utf8(authMessage(MACHINE, "m".repeat(43))), publicKey, signature)).toBe(false);
  });
});

describe("Runtime against a local WebSocket server", () => {
  let server: WebSocketServer | undefined;
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop(0);
    await new Promise((resolve) => server?.close(resolve));
  });

  /** A server that welcomes the runtime and records every frame of each connection; the runtime, started on it. */
  async function runtimeOnLocalServer() {
    const identity = generateIdentity();
    const tenant = testTenant();
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: identity.publicKey }, format: "jwk" });
    server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((resolve) => server?.once("listening", resolve));
    const port = (server.address() as AddressInfo).port;
    const connections: { socket: WebSocket; frames: ReceivedFrame[]; binary: boolean[]; url: string }[] = [];
    server.on("connection", (socket, request) => {
      const conn = { socket, frames: [] as ReceivedFrame[], binary: [] as boolean[], url: request.url ?? "" };
      connections.push(conn);
      socket.send(JSON.stringify({ t: "challenge", nonce: NONCE }));
      socket.on("message", (data, isBinary) => {
        const parsed = { frame: receivedFrame(data, isBinary) };
        conn.frames.push(parsed.frame);
        conn.binary.push(isBinary);
        if (parsed.frame.t === "hello") {
          const ok = verify(null, utf8(authMessage(MACHINE, NONCE)), publicKey, fromBase64Url(parsed.frame.signature));
          socket.send(
            JSON.stringify(ok ? { t: "welcome", machineId: MACHINE } : { t: "error", code: "x", message: "y" }),
          );
        }
      });
    });

    const lines: string[] = [];
    runtime = new Runtime({
      config: runtimeConfig(port, identity, tenant.signingKey),
      facts: FACTS,
      log: (line) => lines.push(line),
      executor: { shellVersion: async () => "v" },
      // Never healthy, so the reconnect below waits backoffDelay(0, () => 0): no time at all.
      connection: { random: () => 0, backoff: { ...DEFAULT_BACKOFF, healthyAfterMs: Number.POSITIVE_INFINITY } },
    });
    runtime.start();
    await until(() => lines.includes("connected"));
    return { tenant, connections, lines, runtime };
  }

  it("authenticates, runs a dispatched command, and resends unacknowledged frames after a reconnect", async () => {
    const { tenant, connections, lines } = await runtimeOnLocalServer();
    const first = connections[0];
    if (!first) throw new Error("no connection");
    expect(first.url).toBe(`/api/v1/runtime/connect?machineId=${MACHINE}`);
    expect(first.frames.map((f) => f.t)).toEqual(["hello"]);

    const dispatch = tenant.signDispatch(MACHINE, {
      t: "dispatch",
      sessionId: "ses_aaaaaaaaaaaaaaaaaaaa",
      commandId: "cmd_aaaaaaaaaaaaaaaaaaaa",
      command: "echo hello",
      shell: "bash",
      timeoutSeconds: null,
      resume: false,
    });
    first.socket.send(JSON.stringify(dispatch));
    first.socket.send("not json"); // ignored, logged
    await until(() => first.frames.some((f) => f.t === "finished"));
    expect(first.frames.map((f) => f.t)).toEqual(["hello", "started", "output", "finished"]);
    expect(first.binary).toEqual([false, false, true, false]); // output travels as raw bytes in a binary frame
    const output = first.frames[2];
    expect(output).toEqual({
      t: "output",
      sessionId: dispatch.sessionId,
      commandId: dispatch.commandId,
      stream: "stdout",
      offset: 0,
      data: Buffer.from("hello\n").toString("base64"),
    });
    expect(lines).toContain("ignored a frame from the server: frame is not valid JSON");

    // The server commits the start and the output, but not the finish, then the link drops.
    const ack = { t: "ack", sessionId: dispatch.sessionId, commandId: dispatch.commandId, stdout: 6, stderr: 0 };
    first.socket.send(JSON.stringify({ ...ack, started: true, finished: false }));
    await until(() => runtime?.outbox.pending().length === 1);
    first.socket.terminate();
    await until(() => connections.length === 2 && (connections[1]?.frames.length ?? 0) >= 2);
    const second = connections[1];
    expect(second?.frames.map((f) => f.t)).toEqual(["hello", "finished"]);
    expect(lines.some((l) => /^disconnected.*, retrying in 0\.0s$/.test(l))).toBe(true);

    // A redispatch of the same command after the reconnect resends, it does not run again.
    second?.socket.send(JSON.stringify(dispatch));
    await until(() => (second?.frames.length ?? 0) >= 3);
    expect(second?.frames.map((f) => f.t)).toEqual(["hello", "finished", "finished"]);
    second?.socket.send(JSON.stringify({ ...ack, started: true, finished: true }));
    await until(() => runtime?.outbox.pending().length === 0);
  });

  it("sends a small command's frames past a big command's unacknowledged backlog, and every byte of both in order", async () => {
    const { tenant, connections } = await runtimeOnLocalServer();
    const conn = connections[0];
    if (!conn) throw new Error("no connection");
    const dispatch = (ref: { sessionId: string; commandId: string }, command: string) =>
      conn.socket.send(JSON.stringify(tenant.signDispatch(MACHINE, bashDispatch(command, ref))));
    const big = { sessionId: "ses_bbbbbbbbbbbbbbbbbbbb", commandId: "cmd_bbbbbbbbbbbbbbbbbbbb" };
    const small = { sessionId: "ses_ssssssssssssssssssss", commandId: "cmd_ssssssssssssssssssss" };
    const bigBytes = 6 * 1024 * 1024;
    dispatch(big, `head -c ${bigBytes} /dev/zero`);
    // The big command has filled its whole backpressure window, none of it acknowledged.
    await until(() => runtime?.outbox.isPaused(big.commandId) === true);
    dispatch(small, "echo x");
    await until(() => conn.frames.some((f) => f.t === "finished" && f.commandId === small.commandId));

    const outputOf = (frames: ReceivedFrame[], commandId: string) =>
      frames.filter((f) => f.t === "output" && f.commandId === commandId) as OutputFrame[];
    // On the wire: no more of the big command's backlog than the send window (the last frame may cross it), then the
    // small command whole.
    const sentBig = outputOf(conn.frames, big.commandId).reduce((n, f) => n + Buffer.from(f.data, "base64").length, 0);
    expect(sentBig).toBeLessThan(SEND_WINDOW_BYTES + LIMITS.outputChunkBytes);
    expect(runtime?.outbox.unackedBytes(big.commandId)).toBeGreaterThan(SEND_WINDOW_BYTES);
    expect(conn.frames.filter((f) => "commandId" in f && f.commandId === small.commandId).map((f) => f.t)).toEqual([
      "started",
      "output",
      "finished",
    ]);

    // The server acknowledges what it gets: the rest of the big output follows, every byte once, in offset order.
    conn.socket.on("message", () => {
      const committed = outputOf(conn.frames, big.commandId).reduce(
        (n, f) => n + Buffer.from(f.data, "base64").length,
        0,
      );
      const finished = conn.frames.some((f) => f.t === "finished" && f.commandId === big.commandId);
      conn.socket.send(JSON.stringify({ t: "ack", ...big, started: true, stdout: committed, stderr: 0, finished }));
    });
    conn.socket.send(JSON.stringify({ t: "ack", ...big, started: true, stdout: sentBig, stderr: 0, finished: false }));
    await until(() => conn.frames.some((f) => f.t === "finished" && f.commandId === big.commandId), "the big finish");
    const offsets = outputOf(conn.frames, big.commandId).map((f) => f.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    const all = Buffer.concat(outputOf(conn.frames, big.commandId).map((f) => Buffer.from(f.data, "base64")));
    expect(all.length).toBe(bigBytes);
    expect(all.every((b) => b === 0)).toBe(true);
    expect(
      conn.frames
        .filter((f) => "commandId" in f && f.commandId === big.commandId)
        .map((f) => f.t)
        .at(0),
    ).toBe("started");
  });

  it("sends every frame's bytes as read, also the resends an ack covers while they wait to be written", async () => {
    const { tenant, connections } = await runtimeOnLocalServer();
    const dir = mkdtempSync(path.join(tmpdir(), "caisey-resend-"));
    try {
      // Random bytes, so a frame sent from a buffer already refilled with later output cannot pass for the right one.
      const content = randomBytes(24 * LIMITS.outputChunkBytes);
      const file = path.join(dir, "out.bin");
      writeFileSync(file, content);
      const ref = { sessionId: "ses_rrrrrrrrrrrrrrrrrrrr", commandId: "cmd_rrrrrrrrrrrrrrrrrrrr" };
      // The server: keeps the output in order, checks every copy of a frame it already has, acknowledges as it goes.
      let received = 0;
      const differing: number[] = [];
      let acking = true;
      let finished = false;
      const ack = (conn: { socket: WebSocket }) =>
        conn.socket.send(JSON.stringify({ t: "ack", ...ref, started: true, stdout: received, stderr: 0, finished }));
      const serve = (conn: { socket: WebSocket; frames: ReceivedFrame[] }) =>
        conn.socket.on("message", () => {
          const frame = conn.frames.at(-1);
          if (frame?.t === "hello") return ack(conn); // at once: it covers the resends about to come
          if (!frame || !("commandId" in frame) || frame.commandId !== ref.commandId) return;
          if (frame.t === "output") {
            const bytes = Buffer.from(frame.data, "base64");
            if (!bytes.equals(content.subarray(frame.offset, frame.offset + bytes.length)))
              differing.push(frame.offset);
            received = Math.max(received, frame.offset + bytes.length);
          }
          if (frame.t === "finished") finished = true;
          if (acking) ack(conn);
        });
      const first = connections[0];
      if (!first) throw new Error("no connection");
      serve(first);
      server?.on("connection", () => serve(connections.at(-1) as (typeof connections)[number]));
      first.socket.send(JSON.stringify(tenant.signDispatch(MACHINE, bashDispatch(`cat '${file}'`, ref))));
      // A few frames acknowledged (their buffers used again), then none: the window fills, and the link drops.
      await until(() => received >= LIMITS.outputChunkBytes);
      acking = false;
      await until(() => runtime?.outbox.isPaused(ref.commandId) === true);
      const resent = runtime?.outbox.pending().length ?? 0;
      expect(resent).toBeGreaterThan(SEND_WINDOW_BYTES / LIMITS.outputChunkBytes); // more than the send window holds
      first.socket.terminate();
      acking = true;
      await until(() => finished, "the finish");
      expect(differing).toEqual([]);
      expect(received).toBe(content.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
