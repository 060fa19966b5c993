// The endpoint's disk is far smaller than a command's output. The journal writes to a simulated small disk (its
// injected write seam answers ENOSPC, with the partial write a full disk makes, once the files in the data dir reach
// the capacity); a fake server acknowledges what it receives, or stops acknowledging (unreachable).

import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { AckFrame, FinishedFrame } from "@caisey/core";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { DEFAULT_BACKOFF } from "../src/connection.ts";
import { generateIdentity } from "../src/enroll.ts";
import { diskFullReason } from "../src/executor.ts";
import { Journal, type JournalOptions } from "../src/journal.ts";
import { Runtime } from "../src/runtime.ts";
import {
  FACTS,
  MACHINE,
  NONCE,
  type ReceivedFrame,
  receivedFrame,
  runtimeConfig,
  smallDisk,
  until,
} from "./fixtures.ts";
import { bashDispatch, testTenant } from "./tenant.ts";

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** A server that acknowledges what it has received, in order, or holds its acknowledgements while `holding`. */
async function fakeServer() {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  const state = {
    server,
    port: (server.address() as AddressInfo).port,
    holding: false,
    socket: null as WebSocket | null,
    frames: [] as ReceivedFrame[],
    acked: new Map<string, AckFrame>(),
    /** Acknowledge everything received so far (the server is reachable again). */
    release() {
      state.holding = false;
      for (const ack of state.acked.values()) state.socket?.send(JSON.stringify(ack));
    },
    bytes(commandId: string): Buffer {
      const out = state.frames.filter((f) => f.t === "output" && f.commandId === commandId && f.stream === "stdout");
      return Buffer.concat(out.map((f) => Buffer.from((f as { data: string }).data, "base64")));
    },
    finished(commandId: string): FinishedFrame | undefined {
      return state.frames.find((f): f is FinishedFrame => f.t === "finished" && f.commandId === commandId);
    },
  };
  server.on("connection", (socket) => {
    state.socket = socket;
    socket.send(JSON.stringify({ t: "challenge", nonce: NONCE }));
    socket.on("message", (data, isBinary) => {
      const frame = receivedFrame(data, isBinary);
      if (frame.t === "hello") {
        socket.send(JSON.stringify({ t: "welcome", machineId: MACHINE }));
        return;
      }
      if (frame.t !== "started" && frame.t !== "output" && frame.t !== "finished") return;
      const ack = state.acked.get(frame.commandId) ?? {
        t: "ack",
        sessionId: frame.sessionId,
        commandId: frame.commandId,
        started: false,
        stdout: 0,
        stderr: 0,
        finished: false,
      };
      // A frame resent after a reconnect is one the server already holds.
      if (frame.t === "output" && frame.offset !== ack[frame.stream]) return;
      state.frames.push(frame);
      if (frame.t === "started") ack.started = true;
      else if (frame.t === "finished") ack.finished = true;
      else ack[frame.stream] += Buffer.from(frame.data, "base64").length;
      state.acked.set(frame.commandId, ack);
      if (!state.holding) socket.send(JSON.stringify(ack));
    });
  });
  return state;
}

let dir: string;
let runtime: Runtime | undefined;
let server: Awaited<ReturnType<typeof fakeServer>> | undefined;
afterEach(async () => {
  await runtime?.stop(0);
  runtime = undefined;
  await new Promise((resolve) => (server ? server.server.close(resolve) : resolve(undefined)));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const tenant = testTenant();

/** A runtime whose outbox journal is on `disk`, connected to a fake server. */
async function start(journal: JournalOptions, lines: string[], diskFullFailAfterMs?: number) {
  server = await fakeServer();
  const store = await Journal.open(path.join(dir, "outbox"), { log: (l) => lines.push(l), ...journal });
  runtime = new Runtime({
    config: runtimeConfig(server.port, generateIdentity(), tenant.signingKey),
    facts: FACTS,
    log: (line) => lines.push(line),
    store,
    executor: { shellVersion: async () => "v", diskFullFailAfterMs },
    connection: { backoff: { ...DEFAULT_BACKOFF, capMs: 100 } },
  });
  runtime.start();
  await until(() => lines.includes("connected"), "connected");
  return server;
}

function dispatch(command: string): string {
  const frame = tenant.signDispatch(MACHINE, bashDispatch(command));
  server?.socket?.send(JSON.stringify(frame));
  return frame.commandId;
}

/** 10 MiB of random bytes in a file outside the small disk, and what a command printing it must record. */
function bigOutput(): { file: string; bytes: Buffer } {
  const bytes = randomBytes(10 * MiB);
  const file = path.join(dir, "big.bin");
  writeFileSync(file, bytes);
  return { file, bytes };
}

describe("a data dir far smaller than the output", () => {
  it.each([
    ["the disk answers ENOSPC", {}],
    ["the journal keeps to its budget", { budgetBytes: 512 * 1024 }],
  ] as const)(
    "10 MiB through a 2 MiB disk finish byte-exact (%s), and the next command runs",
    async (how, budget) => {
      dir = mkdtempSync(path.join(os.tmpdir(), "caisey-full-disk-"));
      const { file, bytes } = bigOutput();
      const disk = smallDisk(path.join(dir, "outbox"), 2 * MiB);
      const lines: string[] = [];
      const fake = await start({ ...budget, beforeWrite: disk.beforeWrite }, lines);

      const big = dispatch(`cat ${file}`);
      await until(() => fake.finished(big) !== undefined, "the big command's finish", 120_000);
      expect(fake.finished(big)).toMatchObject({
        state: "finished",
        exitCode: 0,
        stdoutBytes: bytes.length,
        stdoutSha256: sha256(bytes),
      });
      expect(sha256(fake.bytes(big))).toBe(sha256(bytes));
      expect(disk.peak).toBeLessThanOrEqual(2 * MiB);
      if (how === "the disk answers ENOSPC") {
        expect(disk.refused).toBeGreaterThan(0);
        expect(lines.some((l) => l.includes("failed (ENOSPC: no space left on device, write)"))).toBe(true);
      } else {
        expect(disk.refused).toBe(0); // paused at the budget, never at the disk's end
      }

      const next = dispatch("echo next");
      await until(() => fake.finished(next) !== undefined, "the next command's finish");
      expect(fake.bytes(next).toString()).toBe("next\n");
    },
    180_000,
  );

  it("with the server unreachable too, fails the command with the reason, records it once it can, and runs the next", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "caisey-full-disk-"));
    const { file, bytes } = bigOutput();
    const disk = smallDisk(path.join(dir, "outbox"), MiB);
    const lines: string[] = [];
    const fake = await start({ beforeWrite: disk.beforeWrite }, lines, 300);
    fake.holding = true; // nothing is acknowledged: the journal cannot free anything

    const big = dispatch(`cat ${file}`);
    const reason = diskFullReason(300);
    await until(() => lines.includes(`${big}: ${reason}`), "the command stopped for the full disk", 20_000);
    expect(disk.refused).toBeGreaterThan(0);

    fake.release(); // the server is back: acknowledgements free the disk, the finish gets written and sent
    await until(() => fake.finished(big) !== undefined, "the finish of the stopped command", 20_000);
    const finish = fake.finished(big) as FinishedFrame;
    expect(finish).toMatchObject({ state: "failed", exitCode: null, reason });
    const kept = fake.bytes(big);
    expect(finish.stdoutBytes).toBe(kept.length);
    expect(kept.length).toBeLessThan(bytes.length);
    expect(kept.equals(bytes.subarray(0, kept.length))).toBe(true); // exactly the output up to the stop
    expect(finish.stdoutSha256).toBe(sha256(kept));
    expect(lines.filter((l) => l.includes("failed (ENOSPC"))).toHaveLength(1); // said once, not at every retry

    const next = dispatch("echo next");
    await until(() => fake.finished(next) !== undefined, "the next command's finish");
    expect(fake.finished(next)).toMatchObject({ state: "finished", exitCode: 0 });
    expect(fake.bytes(next).toString()).toBe("next\n");
    expect(lines).toContain("outbox journal: the disk has room again");
  }, 60_000);
});
