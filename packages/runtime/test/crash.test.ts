// The runtime process dies (SIGKILL) in the middle of commands and starts again on the same data directory: the
// journal hands the server every byte the commands wrote, once and in order, then an `interrupted` finish.

import { type ChildProcess, spawn } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  authMessage,
  type FinishedFrame,
  fromBase64Url,
  type OutputFrame,
  type StartedFrame,
  utf8,
} from "@caisey/core";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { writeConfig } from "../src/config.ts";
import { generateIdentity } from "../src/enroll.ts";
import type { OutboxFrame } from "../src/outbox.ts";
import { isRuntimeReport, liveInGroup, MACHINE, NONCE, receivedFrame, runtimeConfig, until } from "./fixtures.ts";
import { testTenant } from "./tenant.ts";

const SES_A = "ses_aaaaaaaaaaaaaaaaaaaa";
const SES_B = "ses_bbbbbbbbbbbbbbbbbbbb";
const CMD_A = "cmd_aaaaaaaaaaaaaaaaaaaa";
const CMD_B = "cmd_bbbbbbbbbbbbbbbbbbbb";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

interface Conn {
  socket: WebSocket;
  frames: OutboxFrame[];
}

let server: WebSocketServer | undefined;
const procs: ChildProcess[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function startRuntime(dataDir: string, log: string[]): ChildProcess {
  // CAISEY_RUNTIME_CLI=packages/runtime/dist/caisey-runtime.mjs runs the same test against the bundle.
  const cli = process.env.CAISEY_RUNTIME_CLI
    ? [path.resolve(root, process.env.CAISEY_RUNTIME_CLI)]
    : ["--experimental-strip-types", "--no-warnings", path.join(root, "packages/runtime/src/cli.ts")];
  const child = spawn(process.execPath, [...cli, "run", "--data-dir", dataDir], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log.push(...chunk.toString("utf8").trim().split("\n"));
    if (process.env.CAISEY_TEST_VERBOSE) process.stderr.write(chunk);
  });
  procs.push(child);
  return child;
}

/** The journal's text: its records are JSON lines, so a test can see what reached the disk. */
const journalText = (dataDir: string) => {
  const outbox = path.join(dataDir, "outbox");
  return readdirSync(outbox)
    .map((name) => readFileSync(path.join(outbox, name), "utf8"))
    .join("");
};
const journalSegments = (dataDir: string) =>
  readdirSync(path.join(dataDir, "outbox")).filter((f) => f.endsWith(".journal"));

const outputOf = (frames: OutboxFrame[], commandId: string) =>
  frames.filter((f): f is OutputFrame => f.t === "output" && f.commandId === commandId);
const bytesOf = (frames: OutputFrame[]) => Buffer.concat(frames.map((f) => Buffer.from(f.data, "base64")));

describe("the runtime process killed mid-command", () => {
  it("resends what it journalled after a restart and reports the commands interrupted, without running them again", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "caisey-crash-"));
    const identity = generateIdentity();
    const tenant = testTenant();
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: identity.publicKey }, format: "jwk" });
    server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((resolve) => server?.once("listening", resolve));
    const conns: Conn[] = [];
    server.on("connection", (socket) => {
      const conn: Conn = { socket, frames: [] };
      conns.push(conn);
      socket.send(JSON.stringify({ t: "challenge", nonce: NONCE }));
      socket.on("message", (data, isBinary) => {
        const parsed = { frame: receivedFrame(data, isBinary) };
        const frame = parsed.frame;
        if (frame.t === "hello") {
          expect(verify(null, utf8(authMessage(MACHINE, NONCE)), publicKey, fromBase64Url(frame.signature))).toBe(true);
          socket.send(JSON.stringify({ t: "welcome", machineId: MACHINE }));
          return;
        }
        if (isRuntimeReport(frame)) return;
        conn.frames.push(frame);
      });
    });
    const port = (server.address() as AddressInfo).port;
    await writeConfig(dir, runtimeConfig(port, identity, tenant.signingKey));
    const dispatch = (conn: Conn, sessionId: string, commandId: string, command: string, resume = false) =>
      conn.socket.send(
        JSON.stringify(
          tenant.signDispatch(MACHINE, {
            t: "dispatch",
            sessionId,
            commandId,
            command,
            shell: "bash",
            timeoutSeconds: null,
            resume,
          }),
        ),
      );
    const ack = (conn: Conn, commandId: string, a: { started: boolean; stdout: number; finished: boolean }) =>
      conn.socket.send(
        JSON.stringify({ t: "ack", sessionId: commandId === CMD_A ? SES_A : SES_B, commandId, stderr: 0, ...a }),
      );

    // ---- first life
    const log1: string[] = [];
    const first = startRuntime(dir, log1);
    await until(() => conns.length === 1 && log1.some((l) => l.endsWith(" connected")), "first connection");
    const c1 = conns[0] as Conn;
    dispatch(c1, SES_A, CMD_A, "for i in $(seq 1 50); do echo $i; sleep 0.02; done");
    dispatch(c1, SES_B, CMD_B, "echo hi; sleep 30");
    await until(() => outputOf(c1.frames, CMD_A).length >= 6, "some output of A");
    // The server commits A's start and its first few lines, then the runtime dies.
    const committed = bytesOf(outputOf(c1.frames, CMD_A).slice(0, 3)).length;
    ack(c1, CMD_A, { started: true, stdout: committed, finished: false });
    await until(
      () => outputOf(c1.frames, CMD_A).length >= 15 && outputOf(c1.frames, CMD_B).length === 1,
      "more output",
    );
    // The ack is on disk before the crash (else A resends more than the uncommitted part).
    await until(
      () =>
        journalText(dir as string).includes(
          `{"k":"ack","commandId":"${CMD_A}","started":true,"stdout":${committed},"stderr":0,"finished":false}`,
        ),
      "the ack in the journal",
    );
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));
    const startedA = c1.frames.find((f): f is StartedFrame => f.t === "started" && f.commandId === CMD_A);
    const startedB = c1.frames.find((f): f is StartedFrame => f.t === "started" && f.commandId === CMD_B);
    if (!startedA || !startedB) throw new Error("no started frames");
    expect(c1.frames.some((f) => f.t === "finished")).toBe(false);
    // B's process group outlives the runtime (it is detached, and sleeps without writing).
    expect(liveInGroup(startedB.pid).length).toBeGreaterThan(0);

    // ---- second life, same data directory
    const log2: string[] = [];
    const second = startRuntime(dir, log2);
    await until(
      () => conns.length === 2 && (conns[1] as Conn).frames.filter((f) => f.t === "finished").length === 2,
      "the interrupted finishes",
    );
    const c2 = conns[1] as Conn;
    // The previous runtime's orphaned tree is gone (verified by pid and start time before killing it).
    await until(() => liveInGroup(startedB.pid).length === 0, "the orphaned process group to die", 2000);
    expect(
      log2.some((l) => l.includes(`killed process group ${startedB.pid} left running by the previous runtime`)),
    ).toBe(true);

    // A: everything not committed comes again, in order, contiguous, then its finish; nothing was run again.
    const resentA = outputOf(c2.frames, CMD_A);
    expect(c2.frames.some((f) => f.t === "started" && f.commandId === CMD_A)).toBe(false); // committed before the crash
    expect(resentA[0]?.offset).toBe(committed);
    let offset = committed;
    for (const f of resentA) {
      expect(f.offset).toBe(offset);
      offset += Buffer.from(f.data, "base64").length;
    }
    const all = Buffer.concat([
      bytesOf(outputOf(c1.frames, CMD_A)).subarray(0, committed),
      bytesOf(resentA),
    ]).toString();
    const n = all.trim().split("\n").length;
    expect(n).toBeGreaterThanOrEqual(15);
    expect(n).toBeLessThan(50);
    expect(all).toBe(Array.from({ length: n }, (_, i) => `${i + 1}\n`).join(""));
    const finA = c2.frames.find((f): f is FinishedFrame => f.t === "finished" && f.commandId === CMD_A);
    expect(finA).toEqual({
      t: "finished",
      sessionId: SES_A,
      commandId: CMD_A,
      state: "interrupted",
      exitCode: null,
      signal: null,
      reason: `the runtime stopped while this command was running (pid ${startedA.pid}); output up to that point is kept`,
      stdoutBytes: all.length,
      stderrBytes: 0,
      stdoutSha256: null,
      stderrSha256: null,
      durationMs: 0,
    });
    expect(c2.frames.filter((f) => f.commandId === CMD_A).at(-1)).toBe(finA);

    // B: nothing was acknowledged, so its start and output come again, then its finish.
    expect(c2.frames.filter((f) => f.commandId === CMD_B).map((f) => f.t)).toEqual(["started", "output", "finished"]);
    expect(bytesOf(outputOf(c2.frames, CMD_B)).toString()).toBe("hi\n");
    expect(c2.frames.find((f) => f.t === "finished" && f.commandId === CMD_B)).toMatchObject({
      state: "interrupted",
      reason: `the runtime stopped while this command was running (pid ${startedB.pid}); output up to that point is kept`,
      stdoutBytes: 3,
    });

    // A redispatch of a command the journal knows resends; it never runs again.
    const before = c2.frames.length;
    dispatch(c2, SES_A, CMD_A, "echo must-not-run", true);
    await until(() => c2.frames.length > before, "the resend");
    expect(c2.frames.slice(before).every((f) => f.commandId === CMD_A)).toBe(true);
    expect(c2.frames.slice(before).some((f) => f.t === "started")).toBe(false);

    // The server commits everything: the journal shrinks to its active segment.
    ack(c2, CMD_A, { started: true, stdout: all.length, finished: true });
    ack(c2, CMD_B, { started: true, stdout: 3, finished: true });
    await until(() => journalSegments(dir as string).length === 1, "the acknowledged segments to be deleted");
    second.kill("SIGTERM");
    const code = await new Promise((resolve) => second.once("exit", resolve));
    expect(code).toBe(0);
    expect(journalSegments(dir).length).toBe(1);
  });
});
