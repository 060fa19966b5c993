// Inside workerd: commands waiting for an offline machine, cancel before delivery, and paced live sockets that
// deliver a long backlog completely and in order.

import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { encodeOutputFrame } from "@caisey/core";
import { describe, expect, it, vi } from "vitest";
import {
  call,
  connectRuntime as connect,
  dispatchVerifies,
  enrollMachine,
  finishedFrame,
  inbox,
  json,
  ownerOnce,
  type SimulatedMachine,
  startedFrame,
} from "./harness.ts";

const owner = ownerOnce("fay@fabrikam.test", "Fabrikam MSP");
const machineWithKeys = (t: string) => enrollMachine(t, "Tailspin");
const queue = inbox;
async function connectRuntime(m: SimulatedMachine) {
  const { ws, box } = await connect(m);
  return { ws, q: box };
}

describe("commands for an offline machine", () => {
  it("wait queued, expire with a reason, and the next one runs when the machine comes back", async () => {
    const t = await owner();
    const m = await machineWithKeys(t);
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: t, body: { machineId: m.machineId } }),
      201,
    );
    const first = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, {
        token: t,
        body: { command: "ls /tmp", queueTimeoutSeconds: 1 },
      }),
      202,
    );
    const second = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body: { command: "echo later" } }),
      202,
    );
    expect(
      (await json(await call(`/api/v1/sessions/${sessionId}/commands/${first.commandId}`, { token: t }), 200)).command
        .state,
    ).toBe("queued");

    // The session's alarm expires the command once its second in the queue has passed: run the alarm until it has.
    const stub = env.SESSION.get(env.SESSION.idFromName(sessionId));
    await vi.waitFor(
      async () => {
        expect(await runDurableObjectAlarm(stub)).toBe(true);
        const { command } = await json(
          await call(`/api/v1/sessions/${sessionId}/commands/${first.commandId}`, { token: t }),
          200,
        );
        expect(command.state).toBe("failed");
      },
      { timeout: 5000, interval: 100 },
    );
    const expired = (
      await json(await call(`/api/v1/sessions/${sessionId}/commands/${first.commandId}`, { token: t }), 200)
    ).command;
    expect(expired).toMatchObject({
      state: "failed",
      exitCode: null,
      stdoutBytes: 0,
      finalReason: "expired: the machine did not come online within 1 s",
    });
    const { events } = await json(await call(`/api/v1/sessions/${sessionId}/events`, { token: t }), 200);
    expect(events.at(-1)).toMatchObject({
      type: "command.finished",
      actor: "system",
      data: { commandId: first.commandId, state: "failed" },
    });

    // The machine comes online: the queued (not expired) command is dispatched, the expired one never is.
    const runtime = await connectRuntime(m);
    await runtime.q.until((i) => i.some((f) => f.t === "dispatch"));
    const dispatches = runtime.q.items.filter((f) => f.t === "dispatch");
    expect(await dispatchVerifies(m, dispatches[0])).toBe(true);
    expect(dispatches).toEqual([
      {
        t: "dispatch",
        sessionId,
        commandId: second.commandId,
        command: "echo later",
        shell: "bash",
        timeoutSeconds: null,
        resume: false,
        technicianId: expect.stringMatching(/^usr_/),
        approvalRequired: false,
        approval: null,
        signature: dispatches[0].signature,
      },
    ]);
    runtime.ws.close();
  });

  it("sign a command the policy lets run with its request (no second call at dispatch), one that waits only once approved", async () => {
    const t = await owner();
    const m = await machineWithKeys(t); // the client's policy: changes need approval
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: t, body: { machineId: m.machineId } }),
      201,
    );
    const post = async (body: object) =>
      json(await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body }), 202);
    const read = await post({ command: "uptime" });
    const asked = await post({ command: "uptime", requireApproval: true });
    const change = await post({ command: "rm /tmp/x" });
    expect([read.state, asked.state, change.state]).toEqual(["queued", "awaiting_approval", "awaiting_approval"]);
    // The machine is offline: only the request can have signed, and only what needs no approval.
    const signatures = await runInDurableObject(env.SESSION.get(env.SESSION.idFromName(sessionId)), (_, state) =>
      Object.fromEntries(
        state.storage.sql
          .exec<{ id: string; signature: string | null }>("SELECT id, signature FROM commands")
          .toArray()
          .map((r) => [r.id, r.signature]),
      ),
    );
    expect(signatures).toEqual({
      [read.commandId]: expect.any(String),
      [asked.commandId]: null,
      [change.commandId]: null,
    });

    const runtime = await connectRuntime(m);
    await runtime.q.until((i) => i.some((f) => f.t === "dispatch"));
    const [dispatch] = runtime.q.items.filter((f) => f.t === "dispatch");
    expect(dispatch).toMatchObject({ commandId: read.commandId, approvalRequired: false, approval: null });
    expect(dispatch.signature).toBe(signatures[read.commandId]);
    expect(await dispatchVerifies(m, dispatch)).toBe(true);
    runtime.ws.close();
  });

  it("cancels a command the machine never received, at once", async () => {
    const t = await owner();
    const m = await machineWithKeys(t);
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: t, body: { machineId: m.machineId } }),
      201,
    );
    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body: { command: "uptime" } }),
      202,
    );
    await json(await call(`/api/v1/sessions/${sessionId}/commands/${commandId}/cancel`, { token: t, body: {} }), 202);
    const { command } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands/${commandId}`, { token: t }),
      200,
    );
    expect(command).toMatchObject({
      state: "cancelled",
      finalReason: "cancelled before it started",
      stdoutSha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    });
    const again = await call(`/api/v1/sessions/${sessionId}/commands/${commandId}/cancel`, { token: t, body: {} });
    expect(await json(again, 409)).toEqual({
      error: { code: "command_finished", message: "command already cancelled" },
    });
    // The session can close now that nothing is queued.
    expect((await json(await call(`/api/v1/sessions/${sessionId}/close`, { token: t, body: {} }), 200)).seq).toBe(4); // opened, requested, finished (cancelled), closed
    expect(
      await json(await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body: { command: "ls" } }), 409),
    ).toEqual({
      error: { code: "session_closed", message: "session is closed" },
    });
  });
});

describe("the machine's resume list", () => {
  it("keeps a session while it has commands for the machine, drops it once idle after the last finish, and acks exactly", {
    timeout: 40_000,
  }, async () => {
    const t = await owner();
    const m = await machineWithKeys(t);
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: t, body: { machineId: m.machineId } }),
      201,
    );
    const runtime = await connectRuntime(m);
    const asked = [];
    for (const command of ["echo one", "echo two"])
      asked.push(
        (await json(await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body: { command } }), 202))
          .commandId,
      );
    const resumeList = () =>
      runInDurableObject(env.MACHINE.get(env.MACHINE.idFromName(m.machineId)), (_, state) =>
        state.storage.sql
          .exec<{ session_id: string; since: string }>("SELECT session_id, since FROM pending_sessions")
          .toArray()
          .map((r) => `${r.session_id} ${r.since}`),
      );
    let listed: string[] = [];
    const ackOf = (commandId: string, finished: boolean) => ({
      t: "ack",
      sessionId,
      commandId,
      started: true,
      stdout: 0,
      stderr: 0,
      finished,
    });
    for (const [i, commandId] of asked.entries()) {
      await runtime.q.until((items) => items.some((f) => f.t === "dispatch" && f.commandId === commandId));
      const ref = { sessionId, commandId: commandId as string };
      runtime.ws.send(JSON.stringify(startedFrame(ref)));
      runtime.ws.send(JSON.stringify(finishedFrame(ref)));
      await runtime.q.until((items) => items.some((f) => f.t === "ack" && f.commandId === commandId && f.finished));
      // The acks are the protocol's, to the key: what the Machine keeps for itself (`idle`) never reaches the runtime.
      expect(runtime.q.items.filter((f) => f.t === "ack" && f.commandId === commandId)).toEqual([
        ackOf(commandId, false),
        ackOf(commandId, true),
      ]);
      // After the first finish the second command is the session's work, so a reconnect resumes it. After the last the
      // session stays listed as it was written at the first dispatch (no delete and insert per command), and leaves the
      // list once it stayed idle (IDLE_LISTED_MS).
      const now = await resumeList();
      expect(now).toEqual([expect.stringMatching(new RegExp(`^${sessionId} `))]);
      if (i > 0) expect(now).toEqual(listed);
      listed = now;
    }
    await vi.waitFor(async () => expect(await resumeList()).toEqual([]), { timeout: 20_000, interval: 500 });
    runtime.ws.close();
  });
});

describe("live sockets", () => {
  it("deliver a backlog far larger than the pace burst completely, in order, then follow live", async () => {
    const t = await owner();
    const m = await machineWithKeys(t);
    const runtime = await connectRuntime(m);
    const { id: sessionId } = await json(
      await call("/api/v1/sessions", { token: t, body: { machineId: m.machineId } }),
      201,
    );
    const { commandId } = await json(
      await call(`/api/v1/sessions/${sessionId}/commands`, { token: t, body: { command: "cat big" } }),
      202,
    );
    await runtime.q.until((i) => i.some((f) => f.t === "dispatch"));
    const ref = { sessionId, commandId };
    runtime.ws.send(JSON.stringify(startedFrame(ref, { pid: 1 })));
    // 160 chunks of 64 KiB = 10 MiB of output (~13.3 MiB of events): more than twice the live burst.
    const chunk = new Uint8Array(64 * 1024);
    const acks = () => runtime.q.items.filter((f) => f.t === "ack").length;
    for (let i = 0; i < 160; i++) {
      chunk.fill(i % 251);
      runtime.ws.send(encodeOutputFrame({ t: "output", ...ref, stream: "stdout", offset: i * chunk.length }, chunk));
      if (i % 16 === 15) await runtime.q.until(() => acks() >= i + 2);
    }
    await runtime.q.until(() => acks() >= 161);

    const live = await call(`/api/v1/sessions/${sessionId}/live?after=0`, {
      token: t,
      headers: { upgrade: "websocket" },
    });
    const ws = live.webSocket as WebSocket;
    ws.accept();
    const watcher = queue(ws);
    await watcher.until((i) => i.length >= 164, 20_000);
    // The backlog, then the watcher's own arrival, which is part of the record too.
    expect(watcher.items.map((e) => e.seq)).toEqual(Array.from({ length: 164 }, (_, i) => i + 1));
    expect(watcher.items[163]).toMatchObject({
      type: "participant.joined",
      actor: expect.stringMatching(/^user:usr_/),
      data: { name: "Olivia Owner" },
    });
    expect(watcher.items.filter((e) => e.type === "command.output").map((e) => e.data.offset)).toEqual(
      Array.from({ length: 160 }, (_, i) => i * 65536),
    );
    await json(await call(`/api/v1/sessions/${sessionId}/messages`, { token: t, body: { text: "all done?" } }), 201);
    await watcher.until((i) => i.length >= 165);
    expect(watcher.items[164]).toMatchObject({ seq: 165, type: "chat.message", data: { text: "all done?" } });
    ws.close();
    runtime.ws.close();
  });
});
