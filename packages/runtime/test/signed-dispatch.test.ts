// The runtime runs only what the tenant signed: through the real wiring (WebSocket, Runtime, disk journal, executor,
// real bash) against a local server that plays a spoofed or tampering control plane.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { CancelFrame, DispatchFrame, FinishedFrame, HealthFrame, UpdateRefusedFrame } from "@caisey/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { generateIdentity } from "../src/enroll.ts";
import { Journal } from "../src/journal.ts";
import { Runtime } from "../src/runtime.ts";
import {
  FACTS,
  isRuntimeReport,
  MACHINE,
  NONCE,
  type ReceivedFrame,
  receivedFrame,
  runtimeConfig,
  until,
} from "./fixtures.ts";
import { approvalDigest, bashDispatch, TECHNICIAN, type TestTenant, testTenant, withDefaults } from "./tenant.ts";

const OTHER_MACHINE = "mch_bbbbbbbbbbbbbbbbbbbb";
const SES = "ses_aaaaaaaaaaaaaaaaaaaa";

let dir: string;
let server: WebSocketServer | undefined;
let runtime: Runtime | undefined;
let journal: Journal | undefined;
let tenant: TestTenant;
let socket: WebSocket;
let frames: Exclude<ReceivedFrame, HealthFrame | UpdateRefusedFrame>[];
let lines: string[];

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "caisey-signed-"));
  tenant = testTenant();
  frames = [];
  lines = [];
  server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server?.once("listening", resolve));
  const connected = new Promise<WebSocket>((resolve) => {
    server?.on("connection", (ws) => {
      ws.send(JSON.stringify({ t: "challenge", nonce: NONCE }));
      ws.on("message", (data, isBinary) => {
        const parsed = { frame: receivedFrame(data, isBinary) };
        if (parsed.frame.t === "hello") {
          ws.send(JSON.stringify({ t: "welcome", machineId: MACHINE }));
          return;
        }
        if (isRuntimeReport(parsed.frame)) return;
        frames.push(parsed.frame);
      });
      resolve(ws);
    });
  });
  const identity = generateIdentity();
  journal = await Journal.open(path.join(dir, "outbox"));
  runtime = new Runtime({
    config: runtimeConfig((server.address() as AddressInfo).port, identity, tenant.signingKey),
    facts: FACTS,
    log: (line) => lines.push(line),
    store: journal,
    executor: { shellVersion: async () => "v", cwd: dir, drainGraceMs: 200 },
    connection: { random: () => 0 },
  });
  runtime.start();
  socket = await connected;
  await until(() => lines.includes("connected"));
});

afterEach(async () => {
  await runtime?.stop(0);
  runtime = undefined;
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function unsigned(command: string, extra: Partial<DispatchFrame> = {}): Omit<DispatchFrame, "signature"> {
  return withDefaults(bashDispatch(command, extra));
}

const send = (frame: DispatchFrame | CancelFrame) => socket.send(JSON.stringify(frame));
const of = (commandId: string) => frames.filter((f) => f.t !== "hello" && f.commandId === commandId);
const finishOf = (commandId: string) =>
  frames.find((f): f is FinishedFrame => f.t === "finished" && f.commandId === commandId);

/**
 * Dispatch a correctly signed command in the same session and wait for it to finish. Frames on one socket are handled
 * in order and commands of one session run in order, so anything refused before it would have run (and reported)
 * before it finishes.
 */
async function barrier(): Promise<void> {
  const d = tenant.signDispatch(MACHINE, unsigned("true"));
  send(d);
  await until(() => finishOf(d.commandId) !== undefined);
}

describe("a runtime that pinned the tenant's signing key", () => {
  it("runs nothing whose signature does not verify, journals nothing and answers nothing", async () => {
    const marker = path.join(dir, "marker");
    const touch = unsigned(`touch ${marker}`);
    const forged = [
      { why: "signed by another key", frame: testTenant().signDispatch(MACHINE, touch) },
      { why: "signed for another machine", frame: tenant.signDispatch(OTHER_MACHINE, touch) },
      {
        why: "command swapped under a valid signature",
        frame: { ...tenant.signDispatch(MACHINE, unsigned("echo hi", { commandId: touch.commandId })), ...touch },
      },
      {
        why: "truncated signature",
        frame: (() => {
          const good = tenant.signDispatch(MACHINE, touch);
          // Replace the last character with a different one (never by chance the same: that would be the real one).
          const other = good.signature.endsWith("A") ? "Q" : "A";
          return { ...good, signature: `${good.signature.slice(0, 85)}${other}` };
        })(),
      },
      { why: "resumed, signed by another key", frame: testTenant().signDispatch(MACHINE, { ...touch, resume: true }) },
    ];
    for (const { frame } of forged) send(frame);
    await barrier();

    expect(existsSync(marker)).toBe(false);
    expect(of(touch.commandId)).toEqual([]); // not even an `interrupted` for the resumed one
    expect(journal?.knows(touch.commandId)).toBe(false);
    expect(lines.filter((l) => l === `refused dispatch ${touch.commandId}: bad signature`).length).toBe(forged.length);
    expect(lines.some((l) => l.includes(`running ${touch.commandId}`))).toBe(false);

    // The same dispatch, signed by the tenant for this machine, runs.
    send(tenant.signDispatch(MACHINE, touch));
    await until(() => finishOf(touch.commandId) !== undefined);
    expect(existsSync(marker)).toBe(true);
    expect(of(touch.commandId).map((f) => f.t)).toEqual(["started", "finished"]);
    expect(finishOf(touch.commandId)).toMatchObject({ state: "finished", exitCode: 0 });
  });

  it("runs an approval-gated dispatch only with the approval for exactly that command", async () => {
    const marker = path.join(dir, "marker");
    const command = `touch ${marker}`;
    const digest = (over: { command?: string; machineId?: string; sessionId?: string; technicianId?: string }) =>
      approvalDigest({ shell: "bash", command, machineId: MACHINE, sessionId: SES, technicianId: TECHNICIAN, ...over });
    const approval = (d: string) => ({ id: "apr_aaaaaaaaaaaaaaaaaaaa", digest: d });
    const gated = unsigned(command, { approvalRequired: true, approval: null });
    expect(gated.technicianId).toBe(TECHNICIAN);
    const refused = [
      { why: "no approval", frame: gated },
      { why: "no approval, resumed", frame: { ...gated, resume: true } },
      { why: "approval for another command", frame: { ...gated, approval: approval(digest({ command: "true" })) } },
      {
        why: "approval for another technician",
        frame: { ...gated, approval: approval(digest({ technicianId: "usr_bbbbbbbbbbbbbbbbbbbb" })) },
      },
      {
        why: "approval for another machine",
        frame: { ...gated, approval: approval(digest({ machineId: OTHER_MACHINE })) },
      },
      {
        why: "approval for another session",
        frame: { ...gated, approval: approval(digest({ sessionId: "ses_bbbbbbbbbbbbbbbbbbbb" })) },
      },
    ];
    // Every one of them is correctly signed by the tenant: it is the approval, not the signature, that fails.
    for (const { frame } of refused) send(tenant.signDispatch(MACHINE, frame));
    await barrier();

    expect(existsSync(marker)).toBe(false);
    expect(of(gated.commandId)).toEqual([]); // nothing back, not even `interrupted` for the resumed one
    expect(journal?.knows(gated.commandId)).toBe(false);
    expect(lines.some((l) => l === `refused dispatch ${gated.commandId}: bad signature`)).toBe(false);
    expect(
      lines.filter(
        (l) => l === `refused dispatch ${gated.commandId}: it needs the client's approval for exactly this command`,
      ).length,
    ).toBe(refused.length);
    expect(lines.some((l) => l.includes(`running ${gated.commandId}`))).toBe(false);

    // With the approval for exactly this command, it runs.
    send(tenant.signDispatch(MACHINE, { ...gated, approval: approval(digest({})) }));
    await until(() => finishOf(gated.commandId) !== undefined);
    expect(existsSync(marker)).toBe(true);
    expect(of(gated.commandId).map((f) => f.t)).toEqual(["started", "finished"]);
    expect(finishOf(gated.commandId)).toMatchObject({ state: "finished", exitCode: 0 });
  });

  it("ignores a forged redispatch of a known command entirely (no resend), and a forged resume", async () => {
    const d = tenant.signDispatch(MACHINE, unsigned("echo once"));
    send(d);
    await until(() => finishOf(d.commandId) !== undefined);
    const original = of(d.commandId);
    expect(original.map((f) => f.t)).toEqual(["started", "output", "finished"]);
    const before = frames.length;

    send({ ...d, signature: testTenant().signDispatch(MACHINE, d).signature });
    send({ ...d, resume: true, signature: testTenant().signDispatch(MACHINE, d).signature });
    await barrier();
    expect(frames.slice(before).filter((f) => f.t !== "hello" && f.commandId === d.commandId)).toEqual([]);
    expect(lines.filter((l) => l === `refused dispatch ${d.commandId}: bad signature`).length).toBe(2);

    // A correctly signed redispatch is answered (what is unacknowledged is resent; nothing runs again): the check
    // above would have seen it.
    const mark = frames.length;
    send(d);
    await until(() => frames.length >= mark + original.length);
    expect(frames.slice(mark)).toEqual(original);
    expect(lines.some((l) => l.startsWith(`${d.commandId} already finished; not running it again`))).toBe(true);
  });

  it("does not stop a running command for a cancel whose signature does not verify", async () => {
    const marker = path.join(dir, "done");
    const d = tenant.signDispatch(MACHINE, unsigned(`sleep 0.6; touch ${marker}; echo done`));
    send(d);
    await until(() => of(d.commandId).some((f) => f.t === "started"));
    const cancel = { t: "cancel" as const, sessionId: d.sessionId, commandId: d.commandId };
    send(testTenant().signCancel(MACHINE, cancel));
    send(tenant.signCancel(OTHER_MACHINE, cancel));
    send({ ...tenant.signCancel(MACHINE, cancel), signature: d.signature }); // a dispatch's signature is no cancel's
    await until(() => finishOf(d.commandId) !== undefined);
    expect(finishOf(d.commandId)).toMatchObject({ state: "finished", exitCode: 0, stdoutBytes: 5 });
    expect(existsSync(marker)).toBe(true);
    expect(lines.filter((l) => l === `refused cancel ${d.commandId}: bad signature`).length).toBe(3);

    // A cancel the tenant signed stops one.
    const long = tenant.signDispatch(MACHINE, unsigned("sleep 30"));
    send(long);
    await until(() => of(long.commandId).some((f) => f.t === "started"));
    send(tenant.signCancel(MACHINE, { t: "cancel", sessionId: long.sessionId, commandId: long.commandId }));
    await until(() => finishOf(long.commandId) !== undefined);
    expect(finishOf(long.commandId)).toMatchObject({ state: "cancelled", reason: "cancelled by technician" });
  });
});
