import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import type { AddressInfo } from "node:net";
import { authMessage, fromBase64Url, HelloFrame, utf8 } from "@caisey/core";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import {
  backoffDelay,
  connectUrl,
  DEFAULT_BACKOFF,
  helloFrame,
  keepaliveAction,
  nextAttempt,
} from "../src/connection.ts";
import { generateIdentity } from "../src/enroll.ts";
import { Runtime } from "../src/runtime.ts";
import { FACTS, MACHINE, NONCE, type ReceivedFrame, receivedFrame, runtimeConfig, until } from "./fixtures.ts";
import { testTenant } from "./tenant.ts";

describe("backoff", () => {
  it("uses full jitter under an exponential ceiling capped at 15 s", () => {
    const max = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 100].map((a) => backoffDelay(a, max))).toEqual([
      249, 499, 999, 1999, 3999, 7999, 14999, 14999, 14999, 14999,
    ]);
    expect(backoffDelay(5, () => 0)).toBe(0);
    expect(backoffDelay(2, () => 0.5)).toBe(500);
  });

  it("resets only after a connection that stayed up 10 s", () => {
    expect(nextAttempt(0, null)).toEqual({ delayAttempt: 0, attempt: 1 });
    expect(nextAttempt(4, null)).toEqual({ delayAttempt: 4, attempt: 5 });
    expect(nextAttempt(4, 9_999)).toEqual({ delayAttempt: 4, attempt: 5 });
    expect(nextAttempt(4, 10_000)).toEqual({ delayAttempt: 0, attempt: 1 });
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 250, capMs: 15_000, resetAfterMs: 10_000 });
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

  it("authenticates, runs a dispatched command, and resends unacknowledged frames after a reconnect", async () => {
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
      connection: { random: () => 0 },
    });
    runtime.start();
    await until(() => lines.includes("connected"));
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
});
